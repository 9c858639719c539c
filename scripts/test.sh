#!/usr/bin/env bash
# The project's test command: set-up if needed, then the whole test suite on 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 2 -q tests "$@"

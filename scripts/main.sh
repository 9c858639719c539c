#!/usr/bin/env bash
# The project's main job: set-up if needed, then train with Mnemosyne and with Adam and compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mnemosyne-demo "$@"

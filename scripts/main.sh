#!/usr/bin/env bash
# The project's main job: set-up if needed, meta-train Mnemosyne with the quickstart recipe
# (resumes if runs/quickstart already holds a checkpoint), then evaluate it, and the shipped
# pretrained Mnemosyne, against Adam on held-out real-image tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mnemosyne-meta-train --gin_config=meta_train/quickstart.gin --train_log_dir=runs/quickstart "$@"
exec .venv/bin/mnemosyne-demo --train_log_dir=runs/quickstart --json=runs/quickstart/eval.json

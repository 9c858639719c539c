#!/usr/bin/env bash
# The project's main job: set-up if needed, meta-train Mnemosyne with the quickstart recipe
# (resumes if runs/quickstart already holds a checkpoint), then evaluate it, and the shipped
# pretrained Mnemosyne, against AdamW on held-out real-image tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[main] 1/2 meta-training Mnemosyne v2 with gin_configs/meta_train/quickstart.gin into runs/quickstart (300 outer steps, about 5 min on 2 cores)"
.venv/bin/mnemosyne-meta-train --gin_config=meta_train/quickstart.gin --train_log_dir=runs/quickstart "$@"
echo "[main] 2/2 the quickstart result and the shipped pretrained default against AdamW(1e-3) on 3 held-out MNIST MLPs, 3 seeds, 1,000 steps (about 2 min)"
exec .venv/bin/mnemosyne-demo --train_log_dir=runs/quickstart --json=runs/quickstart/eval.json --plot=runs/quickstart/eval_curves.png

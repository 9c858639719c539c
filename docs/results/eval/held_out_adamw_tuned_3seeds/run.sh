#!/bin/bash
# LR-tuned AdamW (optax.adamw, weight decay 1e-4, its rate picked per task from 1e-4 .. 1e-2 on the
# mean final validation loss of the 3 seeds; the quadratic's on other instances) on held_out's nine
# tasks outside MiniLM, 3 seeds, constant rate, on core CORE; merged with the shipped default's
# 3-seed runs (../held_out_orthogonal_3seeds/: mnemosyne() untuned, "plain", AdamW at 1e-3; the
# same tasks, seeds and batches) into this folder.
# Usage: bash docs/results/eval/held_out_adamw_tuned_3seeds/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw_tuned --seeds 3 \
  --tasks $tasks --out runs/eval_adamw_tuned_3seeds > runs/eval_adamw_tuned_3seeds.log 2>&1 || exit 1
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_orthogonal_3seeds runs/eval_adamw_tuned_3seeds \
  --out docs/results/eval/held_out_adamw_tuned_3seeds

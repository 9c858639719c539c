#!/usr/bin/env bash
# The default, the pretrained "orthogonal" (weight decay 0.1), with its learning rate tuned
# (mnemosyne_tuned: 1e-4 .. 1e-2, constant, picked on the mean final validation loss of seeds 0-2;
# the quadratic on other instances, seeds 10000-10002, as for every tuned optimizer) on the nine
# held_out tasks other than MiniLM's two, on core CORE; then merged (this sweep first) with
# ../held_out_tuned_field_3seeds/ (the default untuned, "plain", AdamW at 1e-3 and tuned AdamW,
# Muon, schedule-free AdamW and Lion: the same tasks, seeds and batches) into this folder.
# Usage: bash docs/results/eval/held_out_orthogonal_tuned_3seeds/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --seeds 3 \
  --optimizers mnemosyne_tuned:pretrained/orthogonal \
  --tasks $tasks \
  --out runs/eval_orthogonal_tuned_3seeds || exit 1
.venv/bin/mnemosyne-eval --merge runs/eval_orthogonal_tuned_3seeds docs/results/eval/held_out_tuned_field_3seeds \
  --out docs/results/eval/held_out_orthogonal_tuned_3seeds

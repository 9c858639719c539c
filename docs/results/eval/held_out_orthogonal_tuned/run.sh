#!/usr/bin/env bash
# The default, the pretrained "orthogonal" (weight decay 0.1), with its learning rate tuned
# (mnemosyne_tuned: 1e-4 .. 1e-2, picked on validation loss; the quadratic on other instances, as
# for every tuned optimizer), constant, on the nine held_out tasks other than MiniLM's two, one
# seed, on core CORE; then merged (this sweep first) with ../held_out_v2_headline_wd/ (AdamW
# default and tuned, tuned Muon, schedule-free AdamW and Lion, and "plain" untuned and tuned: the
# same tasks, seed and batches) into this folder.
# Usage: bash docs/results/eval/held_out_orthogonal_tuned/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 \
  --optimizers mnemosyne_tuned:pretrained/orthogonal \
  --tasks $tasks \
  --out runs/eval_orthogonal_tuned || exit 1
.venv/bin/mnemosyne-eval --merge runs/eval_orthogonal_tuned docs/results/eval/held_out_v2_headline_wd \
  --out docs/results/eval/held_out_orthogonal_tuned

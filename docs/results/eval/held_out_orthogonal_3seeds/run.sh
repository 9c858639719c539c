#!/bin/bash
# The pretrained "orthogonal" Mnemosyne (mnemosyne(name="orthogonal"): learning rate 1e-3, weight
# decay 0.1, per-coordinate bound 2, as the pretrained "plain") on the nine held_out tasks other than
# MiniLM's two, 3 seeds, constant learning rate, on core CORE; then merged with "plain"'s
# runs (../held_out_v2_coordinate_cap_3seeds/) and AdamW's
# (../held_out_v2_wd_3seeds/: same tasks, seeds and batches).
# Usage: bash docs/results/eval/held_out_orthogonal_3seeds/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_orthogonal_3seeds
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne:pretrained/orthogonal --seeds 3 \
  --tasks $tasks \
  --out runs/eval_orthogonal_3seeds || exit 1
.venv/bin/mnemosyne-eval --merge runs/eval_orthogonal_3seeds docs/results/eval/held_out_v2_coordinate_cap_3seeds \
  docs/results/eval/held_out_v2_wd_3seeds --out $out

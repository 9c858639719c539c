#!/usr/bin/env bash
# The pretrained "plain" with its per-coordinate bound (max_coordinate_ratio=2; learning rate 1e-3,
# weight decay 0.1; mnemosyne_coordinate_capped:pretrained/plain is mnemosyne:pretrained/plain with the bound
# set explicitly) on the nine held_out tasks other than MiniLM's two, 3 seeds, constant learning
# rate, one core. AdamW's figures on the same tasks and seeds: ../held_out_v2_wd_3seeds/.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_coordinate_capped:pretrained/plain --seeds 3 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_coordinate_cap_3seeds

#!/usr/bin/env bash
# The pretrained "plain" with its per-coordinate bound (max_coordinate_ratio=2; learning rate 1e-3,
# weight decay 0.1; mnemosyne_coordinate_capped:pretrained/plain is mnemosyne:pretrained/plain with the bound
# set explicitly) on held_out's two MiniLM tasks, 3 seeds, constant learning rate, one core.
# The same tasks and seeds without the bound, and AdamW: ../held_out_v2_wd_minilm_3seeds/.
cd "$(dirname "$0")/../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_coordinate_capped:pretrained/plain --seeds 3 \
  --tasks minilm_finetune_austen,minilm_prompt_austen --out docs/results/eval/held_out_v2_coordinate_cap_minilm_3seeds

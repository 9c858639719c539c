#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget (best-selection theta and config of the stage 8
# folder; learning rate 1e-3, no weight decay, as meta-trained) on held_out's MiniLM prompt tuning,
# 3 seeds, constant learning rate, one core. Mnemosyne v2's figures on the same task and seeds:
# ../held_out_v2_coordinate_cap_minilm_3seeds/.
cd "$(dirname "$0")/../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 3 \
  --optimizers celo2_style:docs/results/meta_training/celo2_style_v2_stage8 \
  --tasks minilm_prompt_austen --out docs/results/eval/held_out_celo2_equal_budget_minilm_prompt_3seeds

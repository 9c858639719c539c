#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget with Mnemosyne v2's per-coordinate bound
# (celo2_style_bound: max_coordinate_ratio=2) on held_out's MiniLM prompt tuning, 3 seeds, constant
# learning rate 1e-3, one core. Without the bound: ../held_out_celo2_equal_budget_minilm_prompt_3seeds/;
# Mnemosyne v2 as shipped: ../held_out_v2_coordinate_cap_minilm_3seeds/.
cd "$(dirname "$0")/../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 3 \
  --optimizers celo2_style_bound:docs/results/meta_training/celo2_style_v2_stage8 \
  --tasks minilm_prompt_austen --out docs/results/eval/held_out_celo2_bound_minilm_prompt_3seeds

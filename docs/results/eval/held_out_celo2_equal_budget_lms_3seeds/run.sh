#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget (3,000 outer steps of the v2 recipe; its
# best-selection theta and config from the stage 8 folder) on held_out's two byte-level Transformer
# LMs, 3 seeds, constant learning rate 1e-3, one core. Mnemosyne v2's figures on the same tasks and
# seeds: ../held_out_v2_coordinate_cap_3seeds/.
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --seeds 3 \
  --optimizers celo2_style:docs/results/meta_training/celo2_style_v2_stage8 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit --out docs/results/eval/held_out_celo2_equal_budget_lms_3seeds

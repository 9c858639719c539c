#!/usr/bin/env bash
# The shipped theta bounded to Adam's step size per coordinate (max_coordinate_ratio=1 instead of
# the shipped 2; learning rate 1e-3, weight decay 0.1) on the four held_out tasks of
# ../held_out_seed0/, seed 0, one core.
cd "$(dirname "$0")/../../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_coordinate_cap1:pretrained --seeds 1 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32 \
  --out docs/results/stability/coordinate_bound/held_out_seed0_cap1

#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget (as ../held_out_celo2_equal_budget_lms_3seeds/)
# on held_out's seven other tasks outside MiniLM, 3 seeds, constant learning rate 1e-3, one core.
# Mnemosyne v2's figures on the same tasks and seeds: ../held_out_v2_coordinate_cap_3seeds/.
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --seeds 3 \
  --optimizers celo2_style:docs/results/meta_training/celo2_style_v2_stage8 \
  --tasks vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist_npm28_conv16x32,lo_quadratic10,mnist_npm28_mlp32_tanh_10k,mnist5k28_mlp128x64_relu_10k \
  --out docs/results/eval/held_out_celo2_equal_budget_others_3seeds

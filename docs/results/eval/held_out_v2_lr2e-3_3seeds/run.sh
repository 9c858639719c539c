#!/usr/bin/env bash
# The pretrained "plain" (weight decay 0.1) at learning rate 2e-3, the rate chosen on tasks outside
# held_out (../learning_rate_selection/), against AdamW at the same 2e-3, constant, on the nine
# held_out tasks other than MiniLM's two, 3 seeds, one core.
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw@2e-3,mnemosyne:pretrained/plain@2e-3 --seeds 3 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10 \
  --out docs/results/eval/held_out_v2_lr2e-3_3seeds

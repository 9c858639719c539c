#!/usr/bin/env bash
# The v2 default against AdamW(1e-3) (and Adam) on nine held_out tasks (MiniLM's two left out), one seed,
# one core: about 20 minutes.
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,mnemosyne:pretrained/plain --seeds 1 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10 \
  --out docs/results/eval/held_out_v2

#!/bin/bash
# Background held_out sweeps of this session, one core (taskset -c 1), one after the other.
cd /work/main
echo "== rest $(date -u +%T)"
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out \
  --tasks minilm_prompt_austen,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10,lo_ImageMLP_FashionMnist8_Relu32 \
  --optimizers adam,adam_tuned,mnemosyne:pretrained --seeds 1 --out runs/eval/held_out_rest > runs/eval/held_out_rest.log 2>&1
echo "== rest done rc $? $(date -u +%T)"
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out \
  --optimizers adam,adamw,adafactor,lion,sgdm --seeds 1 --out runs/eval/held_out_optax > runs/eval/held_out_optax.log 2>&1
echo "== optax done rc $? $(date -u +%T)"

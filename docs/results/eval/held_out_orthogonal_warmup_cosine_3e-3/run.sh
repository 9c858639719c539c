#!/bin/bash
# The default (mnemosyne(), the pretrained "orthogonal", weight decay 0.1) and AdamW, both with
# linear warmup over 5 % of each run to the peak 3e-3 and a cosine decay to 0, on held_out's nine
# tasks outside MiniLM, seed 0, on one core (about 16 minutes, the other core busy):
#   bash docs/results/eval/held_out_orthogonal_warmup_cosine_3e-3/run.sh [CORE]
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_orthogonal_warmup_cosine_3e-3
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --schedule warmup_cosine \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10 \
  --optimizers mnemosyne:pretrained@3e-3,adamw@3e-3 --out "$out"
rm -f "$out"/curves_*.png
gzip -f "$out/results.json"

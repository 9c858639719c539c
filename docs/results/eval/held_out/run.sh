#!/bin/bash
# lo_ImageMLP_FashionMnist8_Relu32 was in the held_out suite when this ran; it is the meta-training family
# fmnist/ImageMLPFamily and is now only in in_distribution: rerun it with --suite in_distribution.
# The held_out sweeps merged in this folder, one core (taskset -c 1), one after the other.
cd /work/main
echo "== rest $(date -u +%T)"
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out \
  --tasks minilm_prompt_austen,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10,lo_ImageMLP_FashionMnist8_Relu32 \
  --optimizers adam,adam_tuned,mnemosyne:pretrained/v1 --seeds 1 --out runs/eval/held_out_rest > runs/eval/held_out_rest.log 2>&1
echo "== rest done rc $? $(date -u +%T)"
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out \
  --optimizers adam,adamw,adafactor,lion,sgdm --seeds 1 --out runs/eval/held_out_optax > runs/eval/held_out_optax.log 2>&1
echo "== optax done rc $? $(date -u +%T)"

# Session of 2026-12-01/02: tuned AdamW / Adafactor / Lion / SGDm on the nine tasks without MiniLM (40 min, one core),
# then the equal-budget learned optimizers (../held_out_equal_budget/run.sh), all merged with the folder's earlier results:
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out \
  --tasks transformer_lm_kjv_tiny,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10,lo_ImageMLP_FashionMnist8_Relu32 \
  --optimizers adam,adamw_tuned,adafactor_tuned,lion_tuned,sgdm_tuned --seeds 1 --out runs/eval/held_out_tuned_optax
# runs/eval/held_out_before: this folder as committed at 58f3759, its results.json unzipped
.venv/bin/mnemosyne-eval --merge runs/eval/held_out_before runs/eval/held_out_tuned_optax runs/eval/held_out_learned_{a,b1,b2,c} --out docs/results/eval/held_out

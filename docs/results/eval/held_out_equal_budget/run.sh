#!/bin/bash
# lo_ImageMLP_FashionMnist8_Relu32 was in the held_out suite when this ran; it is the meta-training family
# fmnist/ImageMLPFamily and is now only in in_distribution: rerun it with --suite in_distribution.
# The equal-budget learned optimizers on the nine held_out tasks of the three-seed table (the two MiniLM
# tasks left out for time), one seed, each sweep on one core; meta-training: docs/results/meta_training/equal_budget_rerun/.
# (runs/eval/held_out_learned.sh of the session of 2026-12-01/02, unrolled.)
cd "$(dirname "$0")/../../../.."
NINE=transformer_lm_kjv_tiny,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10,lo_ImageMLP_FashionMnist8_Relu32
EIGHT=${NINE/mnist5k28_mlp128x64_relu_10k,/}
ev() { taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 1 "$@"; }
ev --tasks $NINE --optimizers adam,mnemosyne:runs/budget500/mnemosyne,lstm:runs/budget500/lstm --out runs/eval/held_out_learned_a   # 31 min
ev --tasks $EIGHT --optimizers adam,lstm_features:runs/budget500/lstm_features --out runs/eval/held_out_learned_b1          # 10 min
ev --tasks mnist5k28_mlp128x64_relu_10k --optimizers adam,lstm_features:runs/budget500/lstm_features --out runs/eval/held_out_learned_b2  # 16 min
ev --tasks $NINE --optimizers adam,adafac_mlp_lopt:runs/budget500/adafac,rnn_mlp_lopt:runs/budget500/rnn --out runs/eval/held_out_learned_c  # 20 min
.venv/bin/mnemosyne-eval --merge runs/eval/held_out_learned_{a,b1,b2,c} --out runs/eval/held_out_equal_budget

#!/bin/bash
# The Celo2-style rule after 1,500 outer steps of meta_train/v2_small.gin (its best selection
# score of the three stages, stage 3's theta_best.msgpack in ../../meta_training/v2_small_stage3/)
# on held_out's nine tasks outside MiniLM, seed 0, constant learning rate, no weight decay, on core
# CORE; then merged with ../held_out_v2_small_stage2/ (the orthogonalised Mnemosyne's best of its
# three stages is its stage-2 theta, evaluated there).
# Usage: bash docs/results/eval/held_out_v2_small_stage3/run.sh CORE
cd "$(dirname "$0")/../../../.."
mkdir -p runs
taskset -c "${1:-1}" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10 \
  --optimizers celo2_style:docs/results/meta_training/v2_small_stage3/celo2_style \
  --out runs/eval_v2_small_stage3_celo2_style || exit 1
.venv/bin/mnemosyne-eval --merge runs/eval_v2_small_stage3_celo2_style docs/results/eval/held_out_v2_small_stage2 \
  --out docs/results/eval/held_out_v2_small_stage3

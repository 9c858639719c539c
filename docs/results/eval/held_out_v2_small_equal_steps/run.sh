#!/bin/bash
# Every learned optimizer meta-trained on meta_train/v2_small.gin for the same 500 outer steps
# (../../meta_training/v2_small/: each run's selected theta_best.msgpack and config.gin), on
# held_out's nine tasks outside MiniLM, seed 0, constant learning rate (the learned optimizers
# at the 1e-3 they were meta-trained with), one core per sweep; then the sweeps merged here.
# Usage: bash docs/results/eval/held_out_v2_small_equal_steps/run.sh CORE NAME...   (NAME as in
# ../../meta_training/v2_small/run.sh), then with "merge" alone.
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_v2_small_equal_steps
mt=docs/results/meta_training/v2_small
tasks=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10
declare -A kind=([mnemosyne]=mnemosyne [celo2_style]=celo2_style [lstm]=lstm
                 [lstm_features]=lstm_features [adafac]=adafac_mlp_lopt [rnn]=rnn_mlp_lopt
                 [orthogonal]=mnemosyne)
if [ "$1" = merge ]; then
  dirs=()
  for name in mnemosyne celo2_style lstm lstm_features adafac rnn orthogonal; do dirs+=(runs/eval_v2_small/$name); done
  .venv/bin/mnemosyne-eval --merge "${dirs[@]}" --out $out
  exit
fi
core=$1; shift
for name in "$@"; do
  echo "== eval $name $(date -u +%T)"
  taskset -c "$core" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks $tasks \
    --optimizers ${kind[$name]}:$mt/$name --out runs/eval_v2_small/$name > runs/eval_v2_small_$name.log 2>&1
  echo "== eval $name done rc $? $(date -u +%T)"
done

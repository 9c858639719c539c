#!/bin/bash
# The learned optimizers of ../../meta_training/v2_small_stage2/ (1,000 outer steps of
# meta_train/v2_small.gin in all: each run's selected theta_best.msgpack and config.gin) on
# held_out's nine tasks outside MiniLM, seed 0, constant learning rate, no weight decay, exactly as
# ../held_out_v2_small_equal_steps/ (500 outer steps); then merged with that folder's results.
# Usage: bash docs/results/eval/held_out_v2_small_stage2/run.sh CORE NAME...   (NAME as in
# ../../meta_training/v2_small/run.sh), then with "merge NAME..." for the names just evaluated
# (merged with this folder's committed results, which keep the names evaluated before).
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_v2_small_stage2
mt=docs/results/meta_training/v2_small_stage2
tasks=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10
declare -A kind=([mnemosyne]=mnemosyne [celo2_style]=celo2_style [lstm]=lstm
                 [lstm_features]=lstm_features [adafac]=adafac_mlp_lopt [rnn]=rnn_mlp_lopt
                 [orthogonal]=mnemosyne)
if [ "$1" = merge ]; then
  shift
  dirs=(docs/results/eval/held_out_v2_small_equal_steps)
  [ -f $out/results.json.gz ] && dirs+=($out)
  for name in "$@"; do dirs+=(runs/eval_v2_small_stage2/$name); done
  .venv/bin/mnemosyne-eval --merge "${dirs[@]}" --out $out
  exit
fi
core=$1; shift
mkdir -p runs/eval_v2_small_stage2
for name in "$@"; do
  echo "== eval $name $(date -u +%T)"
  taskset -c "$core" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks $tasks \
    --optimizers ${kind[$name]}:$mt/$name --out runs/eval_v2_small_stage2/$name > runs/eval_v2_small_stage2_$name.log 2>&1
  echo "== eval $name done rc $? $(date -u +%T)"
done

#!/usr/bin/env bash
# Every tuned optimizer of ../held_out_orthogonal_tuned_3seeds/ (the default with its rate tuned,
# AdamW, Muon, schedule-free AdamW and Lion tuned; held_out's nine tasks outside MiniLM, seeds 0-2)
# whose pick was the lowest or the highest rate of its grid, extended beyond it as tuned sweeps
# do now (mnemosyne-eval --extend_grids: the rates a factor 10^0.5 further, at most four, until
# one is worse), in two halves of the tasks, one per core, then merged into this folder.
# Usage: bash docs/results/eval/held_out_tuned_extended_3seeds/run.sh a|b CORE
#        bash docs/results/eval/held_out_tuned_extended_3seeds/run.sh merge
cd "$(dirname "$0")/../../../.."
src=docs/results/eval/held_out_orthogonal_tuned_3seeds
out=docs/results/eval/held_out_tuned_extended_3seeds
if [ "$1" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge runs/eval_tuned_extended_a runs/eval_tuned_extended_b --out $out
fi
case "$1" in
  a) tasks=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist_npm28_conv16x32,lo_quadratic10 ;;
  b) tasks=mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k ;;
  *) echo "usage: run.sh a|b CORE, or run.sh merge" >&2; exit 2 ;;
esac
mkdir -p runs
taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --extend_grids $src --tasks $tasks \
  --out runs/eval_tuned_extended_$1 > runs/eval_tuned_extended_$1.log 2>&1

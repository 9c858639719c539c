#!/usr/bin/env bash
# Every tuned optimizer of ../held_out_tuned_field_warmup_cosine_3seeds/ (AdamW, Muon, schedule-free
# AdamW and Lion tuned on warmup and cosine decay; held_out's nine tasks outside MiniLM, seeds 0-2)
# whose pick was the lowest or the highest rate of its grid, extended beyond it
# (../extend_grids_in_halves.sh), in two halves of the tasks, one per core, then merged here.
# Usage: bash docs/results/eval/held_out_tuned_field_warmup_cosine_extended_3seeds/run.sh a|b CORE
#        bash docs/results/eval/held_out_tuned_field_warmup_cosine_extended_3seeds/run.sh merge
here=docs/results/eval/held_out_tuned_field_warmup_cosine_extended_3seeds
a=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,lo_quadratic10,mnist_npm28_mlp32_tanh_10k
b=mnist5k28_mlp128x64_relu_10k,mnist_npm28_conv16x32
exec bash "$(dirname "$0")/../extend_grids_in_halves.sh" docs/results/eval/held_out_tuned_field_warmup_cosine_3seeds \
  $here eval_wc_extended "$1" "$2" "${!1}"

#!/usr/bin/env bash
# Seed 0 of held_out's two byte-level LMs and the MNIST conv net: the stage-2 theta (best selection,
# relative chunk scales, coordinate bound 4, weight decay 0 as meta-trained) beside the shipped
# default with weight decay 0 (mnemosyne_no_wd:pretrained/plain), one core each half.
cd "$(dirname "$0")/../../../../.."
out=docs/results/meta_training/v2_bounded_finetune_stage2_c4/held_out_seed0
opts=mnemosyne:docs/results/meta_training/v2_bounded_finetune_stage2_c4,mnemosyne_no_wd:pretrained/plain
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --optimizers $opts \
  --tasks transformer_lm_kjv_tiny --out $out/lm_std &
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --optimizers $opts \
  --tasks transformer_lm_kjv_tiny_flaxinit,mnist_npm28_conv16x32 --out $out/lm_flax_conv
wait

#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget (best-selection theta of the stage 8 folder,
# no weight decay) with its learning rate tuned as every tuned optimizer is (celo2_style_tuned:
# 1e-3 x 10^{-1, -0.5, 0, 0.5, 1}, picked per task on validation loss), on held_out's nine tasks
# outside MiniLM, seed 0, constant rates, one core. Mnemosyne v2 tuned the same way, seed 0:
# ../held_out_v2_headline_wd/.
#   bash run.sh          the 5-point sweep, into runs/held_out_celo2_tuned_5point
#   bash run.sh extend   its picks at a grid's end extended (mnemosyne-eval --extend_grids) into
#                        runs/held_out_celo2_tuned_extended, copied here (results.json gzipped)
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_celo2_tuned
if [ "$1" = extend ]; then
  taskset -c 1 .venv/bin/mnemosyne-eval --extend_grids runs/held_out_celo2_tuned_5point \
    --out runs/held_out_celo2_tuned_extended || exit 1
  cp runs/held_out_celo2_tuned_extended/{results.md,summary.png} "$out"/
  exec gzip -9 -n -c runs/held_out_celo2_tuned_extended/results.json > "$out"/results.json.gz
fi
exec taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 1 \
  --optimizers celo2_style_tuned:docs/results/meta_training/celo2_style_v2_stage8 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist_npm28_conv16x32,lo_quadratic10,mnist_npm28_mlp32_tanh_10k,mnist5k28_mlp128x64_relu_10k \
  --out runs/held_out_celo2_tuned_5point

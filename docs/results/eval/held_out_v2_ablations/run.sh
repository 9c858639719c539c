#!/usr/bin/env bash
# Mnemosyne v2 and its ablations on the nine held_out tasks other than MiniLM's two, one seed, all at
# learning rate 1e-3 untuned, constant: each learned optimizer meta-trained for 500 outer steps of
# meta_train/v2.gin (docs/results/meta_training/v2_ablations/: full, no_hpe, no_cam, no_norm; its
# theta_best) or of meta_train/v2_lm.gin (docs/results/meta_training/v2_lm_families), the untrained
# v2 rule (Adam's direction normalised per tensor), and AdamW.
# Two sweeps, one per core, then merged.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
A=docs/results/meta_training/v2_ablations
part=${1:-all}
if [ "$part" = a ] || [ "$part" = all ]; then
  taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks $tasks \
    --optimizers adamw,mnemosyne:untrained,mnemosyne:$A/full,mnemosyne:docs/results/meta_training/v2_lm_families --out runs/eval/held_out_v2_ablations_a
fi
if [ "$part" = b ] || [ "$part" = all ]; then
  taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks $tasks \
    --optimizers mnemosyne:$A/no_hpe,mnemosyne:$A/no_cam,mnemosyne:$A/no_norm --out runs/eval/held_out_v2_ablations_b
fi
if [ "$part" = merge ] || [ "$part" = all ]; then
  .venv/bin/mnemosyne-eval --merge runs/eval/held_out_v2_ablations_a runs/eval/held_out_v2_ablations_b \
    --out docs/results/eval/held_out_v2_ablations
fi

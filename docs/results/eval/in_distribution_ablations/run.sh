#!/bin/bash
# Mnemosyne and its three ablations, each meta-trained by docs/results/meta_training/{equal_budget_rerun,ablations}/run.sh
# (mlp_fmnist.gin, 500 outer steps or 715 s), on the in_distribution suite, 3 seeds (3 min on one core).
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-eval --suite in_distribution \
  --optimizers adam,mnemosyne:runs/budget500/mnemosyne,mnemosyne_no_hpe:runs/ablations/no_hpe,mnemosyne_no_discount:runs/ablations/no_discount,mnemosyne_per_coordinate:runs/ablations/per_coordinate \
  --seeds 3 --out runs/eval/in_distribution_ablations

#!/usr/bin/env bash
# The unablated reference for run.sh: Mnemosyne v2 on meta_train/v2.gin, its first 500 outer steps, one core.
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-meta-train --gin_config=meta_train/v2.gin \
    --train_log_dir=runs/v2_ablations/full --gin_bindings="meta_train.num_outer_steps = 500"

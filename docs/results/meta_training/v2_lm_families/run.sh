#!/usr/bin/env bash
# Mnemosyne v2 meta-trained on meta_train/v2_lm.gin (v2.gin's MLP families plus a tiny byte-level
# Transformer LM family on Austen) for 500 outer steps, one core: the same budget as
# ../v2_ablations/full (v2.gin, MLP families only).
cd "$(dirname "$0")/../../../.."
taskset -c ${CORE:-0} .venv/bin/mnemosyne-meta-train --gin_config=meta_train/v2_lm.gin \
    --train_log_dir=runs/v2_lm_families --gin_bindings="meta_train.num_outer_steps = 500"

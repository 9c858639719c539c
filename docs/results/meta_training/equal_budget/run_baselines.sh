#!/bin/bash
# Equal wall-clock meta-training budget: the 715 s that Mnemosyne's 500 outer steps took
# (runs/budget500/mnemosyne/history.json, last "time"), same families/estimator/outer optimizer.
cd /work/main
for name in lstm lstm_features adafac rnn; do
  echo "== $name $(date -u +%T)"
  taskset -c 0 .venv/bin/mnemosyne-meta-train --gin_config gin_configs/meta_train/mlp_fmnist_${name}.gin \
     --num_outer_steps 500 --gin_bindings "meta_train.max_seconds = 715" \
     --train_log_dir runs/budget500/$name > runs/budget500/$name.log 2>&1
  echo "== $name done rc $? $(date -u +%T)"
done

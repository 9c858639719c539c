#!/bin/bash
# Equal meta-training budget: mlp_fmnist.gin's families/estimator/outer optimizer, 500 outer steps each.
cd /work/main
for name in mnemosyne lstm lstm_features adafac rnn; do
  cfg=gin_configs/meta_train/mlp_fmnist.gin
  [ "$name" != mnemosyne ] && cfg=gin_configs/meta_train/mlp_fmnist_${name}.gin
  echo "== $name $(date -u +%T)"
  /usr/bin/time -v taskset -c 0 .venv/bin/mnemosyne-meta-train --gin_config $cfg --num_outer_steps 500 \
     --train_log_dir runs/budget500/$name > runs/budget500/$name.log 2>&1
  echo "== $name done rc $? $(date -u +%T)"
done

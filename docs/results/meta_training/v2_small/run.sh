#!/bin/bash
# Equal-steps meta-training of every learned optimizer on gin_configs/meta_train/v2_small.gin (500
# outer steps each, same families, estimator, outer optimizer and selection tasks), two at a time,
# one per core.  Re-running a name resumes it from runs/v2_small/<name>/checkpoint.pkl.  A finished
# run's meta-parameters (last and selected), history, config and curve are copied into this folder's
# <name>/, where ../../eval/held_out_v2_small_equal_steps/run.sh reads them.
# Usage: bash docs/results/meta_training/v2_small/run.sh CORE NAME...   (NAME: mnemosyne, lstm,
# lstm_features, adafac, rnn, celo2_style, orthogonal)
cd "$(dirname "$0")/../../../.."
core=$1; shift
mkdir -p runs/v2_small
for name in "$@"; do
  gin=gin_configs/meta_train/v2_small_${name}.gin
  [ "$name" = mnemosyne ] && gin=gin_configs/meta_train/v2_small.gin
  echo "== $name $(date -u +%T)"
  taskset -c "$core" .venv/bin/mnemosyne-meta-train --gin_config "$gin" \
     --train_log_dir runs/v2_small/$name > runs/v2_small/$name.log 2>&1
  rc=$?
  echo "== $name done rc $rc $(date -u +%T)"
  if [ $rc = 0 ]; then
    mkdir -p docs/results/meta_training/v2_small/$name
    cp runs/v2_small/$name/{theta.msgpack,theta_best.msgpack,history.json,config.gin,meta_training_curve.png} \
       docs/results/meta_training/v2_small/$name/
  fi
done

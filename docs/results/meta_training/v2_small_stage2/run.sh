#!/bin/bash
# Stage 2 of the equal-steps runs of ../v2_small/: each learned optimizer meta-trained for 500 more
# outer steps of gin_configs/meta_train/v2_small.gin, starting from its stage-1 theta
# (../v2_small/<name>/theta.msgpack, step 500); the outer optimizer's state, the step count and the
# inner-length curriculum start afresh.  Re-running a name resumes it from
# runs/v2_small_stage2/<name>/checkpoint.pkl.  A finished run's meta-parameters (last and selected),
# history, config and curve are copied into this folder's <name>/.
# Usage: bash docs/results/meta_training/v2_small_stage2/run.sh CORE NAME...   (NAME: mnemosyne,
# lstm, lstm_features, adafac, rnn, celo2_style, orthogonal)
cd "$(dirname "$0")/../../../.."
core=$1; shift
here=docs/results/meta_training/v2_small_stage2
mkdir -p runs/v2_small_stage2
for name in "$@"; do
  gin=gin_configs/meta_train/v2_small_${name}.gin
  [ "$name" = mnemosyne ] && gin=gin_configs/meta_train/v2_small.gin
  echo "== $name $(date -u +%T)"
  taskset -c "$core" .venv/bin/mnemosyne-meta-train --gin_config "$gin" \
     --train_log_dir runs/v2_small_stage2/$name \
     --gin_bindings="meta_train.init_theta = 'docs/results/meta_training/v2_small/$name/theta.msgpack'" \
     > runs/v2_small_stage2/$name.log 2>&1
  rc=$?
  echo "== $name done rc $rc $(date -u +%T)"
  if [ $rc = 0 ]; then
    mkdir -p $here/$name
    cp runs/v2_small_stage2/$name/{theta.msgpack,theta_best.msgpack,history.json,config.gin,meta_training_curve.png} \
       $here/$name/
  fi
done

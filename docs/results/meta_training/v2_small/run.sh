#!/bin/bash
# Equal-steps meta-training of every learned optimizer on gin_configs/meta_train/v2_small.gin, 500
# outer steps a stage (same families, estimator, outer optimizer and selection tasks), one core per
# invocation.  Stage 1 starts from the optimizer's initial meta-parameters and writes to this folder;
# stage K >= 2 starts from stage K-1's last theta (this folder for K = 2, ../v2_small_stage<K-1>/
# after) with a fresh outer optimizer, step count and inner-length curriculum, and writes to
# ../v2_small_stage<K>/.  Re-running a name resumes it from runs/<stage folder>/<name>/checkpoint.pkl.
# A finished run's meta-parameters (last and selected), history, config and curve are copied into
# the stage folder's <name>/, where the held_out scripts (../../eval/held_out_v2_small_*/run.sh)
# read them.
# Usage: bash docs/results/meta_training/v2_small/run.sh CORE [--stage K] NAME...
#   (NAME: mnemosyne, lstm, lstm_features, adafac, rnn, celo2_style, orthogonal, orthogonal_gain,
#    orthogonal_gain_long)
cd "$(dirname "$0")/../../../.."
core=$1; shift
stage=1
if [ "$1" = --stage ]; then stage=$2; shift 2; fi
folder() { if [ "$1" = 1 ]; then echo v2_small; else echo "v2_small_stage$1"; fi; }
here=docs/results/meta_training/$(folder "$stage")
runs=runs/$(folder "$stage")
mkdir -p "$runs"
for name in "$@"; do
  gin=gin_configs/meta_train/v2_small_${name}.gin
  [ "$name" = mnemosyne ] && gin=gin_configs/meta_train/v2_small.gin
  init=()
  if [ "$stage" != 1 ]; then
    prev=docs/results/meta_training/$(folder $((stage - 1)))/$name/theta.msgpack
    [ -f "$prev" ] || { echo "stage $stage of $name needs $prev: run stage $((stage - 1)) first"; exit 1; }
    init=(--gin_bindings="meta_train.init_theta = '$prev'")
  fi
  echo "== $name stage $stage $(date -u +%T)"
  taskset -c "$core" .venv/bin/mnemosyne-meta-train --gin_config "$gin" \
     --train_log_dir "$runs/$name" "${init[@]}" > "$runs/$name.log" 2>&1
  rc=$?
  echo "== $name stage $stage done rc $rc $(date -u +%T)"
  if [ $rc = 0 ]; then
    mkdir -p "$here/$name"
    cp "$runs/$name"/{theta.msgpack,theta_best.msgpack,history.json,config.gin,meta_training_curve.png} \
       "$here/$name/"
  fi
done

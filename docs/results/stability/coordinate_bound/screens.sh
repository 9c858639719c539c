#!/usr/bin/env bash
# The x100 re-parameterised regression (reparam_100, 3,000 steps, 3 seeds) for the shipped theta
# under each bound on its step, at learning rates 1e-3, 2e-3 and 3e-3; one JSON per screen here.
# About 2.5 minutes per screen on one core.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
source docs/results/stability/screen.sh
cb() { screen docs/results/stability/coordinate_bound 3 "$1" "$2" mnemosyne,mnemosyne_T "${@:3}"; }  # name lr flags...
for lr in 1e-3 2e-3 3e-3; do
  cb none "$lr" --max_coordinate_ratio none
  cb coordinate_cap2 "$lr" --max_coordinate_ratio 2
  cb relative_scales_coordinate_cap2 "$lr" --max_coordinate_ratio 2 --relative_chunk_scales true
done
for lr in 1e-3 2e-3; do
  cb relative_scales "$lr" --max_coordinate_ratio none --relative_chunk_scales true
done
cb tensor_cap1 2e-3 --max_coordinate_ratio none --max_adam_ratio 1
cb tensor_cap1.5 2e-3 --max_coordinate_ratio none --max_adam_ratio 1.5
cb coordinate_cap1 2e-3 --max_coordinate_ratio 1

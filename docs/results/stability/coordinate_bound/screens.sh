#!/usr/bin/env bash
# The x100 re-parameterised regression (reparam_100, 3,000 steps, 3 seeds) for the shipped theta
# under each bound on its step, at learning rates 1e-3, 2e-3 and 3e-3; one JSON per screen here.
# About 2.5 minutes per screen on one core.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
out=docs/results/stability/coordinate_bound
screen() {  # name lr flags...
  local name=$1 lr=$2; shift 2
  if [ -e "$out/${name}_lr${lr}.json" ]; then return; fi   # kept: delete it to re-run
  echo "== $name lr $lr"
  .venv/bin/mnemosyne-stability --optimizers mnemosyne,mnemosyne_T --problems reparam_100 --steps 3000 \
    --learning_rate "$lr" "$@" --json "$out/${name}_lr${lr}.json" | grep "^| reparam"
}
for lr in 1e-3 2e-3 3e-3; do
  screen none "$lr" --max_coordinate_ratio none
  screen coordinate_cap2 "$lr" --max_coordinate_ratio 2
  screen relative_scales_coordinate_cap2 "$lr" --max_coordinate_ratio 2 --relative_chunk_scales true
done
for lr in 1e-3 2e-3; do
  screen relative_scales "$lr" --max_coordinate_ratio none --relative_chunk_scales true
done
screen tensor_cap1 2e-3 --max_coordinate_ratio none --max_adam_ratio 1
screen tensor_cap1.5 2e-3 --max_coordinate_ratio none --max_adam_ratio 1.5
screen coordinate_cap1 2e-3 --max_coordinate_ratio 1

#!/usr/bin/env bash
# mnemosyne-eval --extend_grids on a committed sweep in two halves of its tasks, one per core,
# then merged: the tuned optimizers whose pick was the lowest or highest rate of their grid get
# the rates 10^0.5 further, at most four, until one is worse (evaluation.extend_at_edges).
# Usage (from a results folder's run.sh):
#   extend_grids_in_halves.sh SRC OUT NAME a|b CORE TASKS     one half, outputs under runs/NAME_a|b
#   extend_grids_in_halves.sh SRC OUT NAME merge              the two halves merged into OUT
cd "$(dirname "$0")/../../.."
src=$1 out=$2 name=$3 half=$4
if [ "$half" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge runs/${name}_a runs/${name}_b --out "$out"
fi
mkdir -p runs
taskset -c "${5:-0}" .venv/bin/mnemosyne-eval --extend_grids "$src" --tasks "$6" \
  --out runs/${name}_$half > runs/${name}_$half.log 2>&1

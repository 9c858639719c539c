#!/usr/bin/env bash
# reparam_100 (3,000 steps) at learning rate 2e-3 and 48 seeds: the shipped default (told and not
# told its horizon), AdamW with optax's weight decay 1e-4 and with Mnemosyne's 0.1, and the shipped
# theta bounded to Adam's step in Adam's direction per coordinate, or to its size only, or without
# weight decay; the default learning rate 1e-3 for comparison. One JSON per screen here; about
# 0.5-1.5 minutes per optimizer on one core (the other busy).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
out=docs/results/stability/reparam100_48seeds
screen() {  # name lr optimizers flags...
  local name=$1 lr=$2 opts=$3; shift 3
  if [ -e "$out/${name}_lr${lr}.json" ]; then return; fi   # kept: delete it to re-run
  echo "== $name lr $lr"
  .venv/bin/mnemosyne-stability --optimizers "$opts" --problems reparam_100 --steps 3000 --seeds 48 \
    --learning_rate "$lr" "$@" --json "$out/${name}_lr${lr}.json" | grep "^\[stability\]"
}
screen shipped 2e-3 mnemosyne,mnemosyne_T,adamw,adamw_wd0.1
screen coordinate_cap1_aligned 2e-3 mnemosyne,mnemosyne_T --max_coordinate_ratio 1 --align_with_adam true
screen shipped 1e-3 mnemosyne,mnemosyne_T,adamw,adamw_wd0.1
screen wd0 2e-3 mnemosyne,mnemosyne_T --weight_decay 0
screen coordinate_cap1 2e-3 mnemosyne,mnemosyne_T --max_coordinate_ratio 1

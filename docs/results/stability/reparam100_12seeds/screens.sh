#!/usr/bin/env bash
# The x100 re-parameterised regression (reparam_100, 3,000 steps) at 12 seeds: the pretrained "plain"
# and AdamW (optax's weight decay 1e-4, and Mnemosyne's 0.1) at 1e-3, 2e-3 and 3e-3, and the
# shipped theta without weight decay or under a tighter per-coordinate bound at 2e-3 (and 3e-3).
# One JSON per screen here; about 1-1.5 minutes per optimizer on one core.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
source docs/results/stability/screen.sh
rs() { screen docs/results/stability/reparam100_12seeds 12 "$@"; }  # name lr optimizers flags...
for lr in 1e-3 2e-3 3e-3; do
  rs shipped "$lr" mnemosyne,mnemosyne_T,adamw,adamw_wd0.1
done
for lr in 2e-3 3e-3; do
  rs wd0 "$lr" mnemosyne,mnemosyne_T --weight_decay 0
done
rs coordinate_cap1 2e-3 mnemosyne,mnemosyne_T --max_coordinate_ratio 1
rs coordinate_cap1_aligned 2e-3 mnemosyne,mnemosyne_T --max_coordinate_ratio 1 --align_with_adam true

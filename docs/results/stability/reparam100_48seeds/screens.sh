#!/usr/bin/env bash
# reparam_100 (3,000 steps) at learning rate 2e-3 and 48 seeds: the pretrained "plain" (told and not
# told its horizon), AdamW with optax's weight decay 1e-4 and with Mnemosyne's 0.1, and the shipped
# theta bounded to Adam's step in Adam's direction per coordinate, or to its size only, or without
# weight decay; the default learning rate 1e-3 for comparison. One JSON per screen here; about
# 0.5-1.5 minutes per optimizer on one core (the other busy).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
source docs/results/stability/screen.sh
rs() { screen docs/results/stability/reparam100_48seeds 48 "$@"; }  # name lr optimizers flags...
rs shipped 2e-3 mnemosyne,mnemosyne_T,adamw,adamw_wd0.1
rs coordinate_cap1_aligned 2e-3 mnemosyne,mnemosyne_T --max_coordinate_ratio 1 --align_with_adam true
rs shipped 1e-3 mnemosyne,mnemosyne_T,adamw,adamw_wd0.1
rs wd0 2e-3 mnemosyne,mnemosyne_T --weight_decay 0
rs coordinate_cap1 2e-3 mnemosyne,mnemosyne_T --max_coordinate_ratio 1
rs relative_scales_coordinate_cap2 2e-3 mnemosyne,mnemosyne_T --relative_chunk_scales true --max_coordinate_ratio 2
rs relative_scales_coordinate_cap3 2e-3 mnemosyne,mnemosyne_T --relative_chunk_scales true --max_coordinate_ratio 3
rs relative_scales_coordinate_cap4 2e-3 mnemosyne,mnemosyne_T --relative_chunk_scales true --max_coordinate_ratio 4
rs relative_scales_coordinate_cap3 1e-3 mnemosyne,mnemosyne_T --relative_chunk_scales true --max_coordinate_ratio 3
# The pretrained "orthogonal" theta (mnemosyne(), the default: "plain"'s settings with
# orthogonalize=True), at the default learning rate and at 2e-3.
ortho=(--theta mnemosyne_lopt/pretrained/orthogonal/theta.msgpack --orthogonalize true)
rs orthogonal_pretrained 1e-3 mnemosyne,mnemosyne_T "${ortho[@]}"
rs orthogonal_pretrained 2e-3 mnemosyne,mnemosyne_T "${ortho[@]}"
# At 3e-3, the rate ../../eval/learning_rate_selection_orthogonal/ picks on the selection tasks,
# with AdamW at the same rate.
rs orthogonal_pretrained 3e-3 mnemosyne,mnemosyne_T,adamw "${ortho[@]}"
# The default at the peak rate its tuned runs choose on the LMs (3.16e-3 there), with linear warmup
# over 5 % of the run and a cosine decay to 0, beside AdamW on the same schedule.
rs orthogonal_pretrained_warmup_cosine 3e-3 mnemosyne,mnemosyne_T,adamw "${ortho[@]}" --schedule warmup_cosine
# The candidate whose learned tensor scale may also lengthen the step up to 10x (max_log_gain ln 10,
# meta-trained with it: docs/results/meta_training/v2_small_stage2/orthogonal_gain/), with its
# meta-training settings (no per-coordinate bound, weight decay 0: "_meta") and with the default's
# (bound 2, decay 0.1); the default's theta with the meta-training settings beside it.
gain=(--pretrained default --max_log_gain 2.302585092994046)
stage2=docs/results/meta_training/v2_small_stage2
meta=(--max_coordinate_ratio none --weight_decay 0)
rs orthogonal_gain_meta 1e-3 mnemosyne,mnemosyne_T "${gain[@]}" --theta $stage2/orthogonal_gain/theta_best.msgpack "${meta[@]}"
rs orthogonal_meta 1e-3 mnemosyne,mnemosyne_T --pretrained default "${meta[@]}"
rs orthogonal_gain 1e-3 mnemosyne,mnemosyne_T "${gain[@]}" --theta $stage2/orthogonal_gain/theta_best.msgpack
# The same candidate meta-trained with the bound 2 in place and over runs of up to 6,000 steps
# ($stage2/orthogonal_gain_long/), with the default's settings and as meta-trained (bound 2, weight
# decay 0: "_meta").
rs orthogonal_gain_long 1e-3 mnemosyne,mnemosyne_T "${gain[@]}" --theta $stage2/orthogonal_gain_long/theta_best.msgpack
rs orthogonal_gain_long_meta 1e-3 mnemosyne,mnemosyne_T "${gain[@]}" --theta $stage2/orthogonal_gain_long/theta_best.msgpack --weight_decay 0
# The default's update with its length learned by Mechanic (mnemosyne_lopt.mnemosyne_mechanic, peak
# 1.0: --learning_rate does not apply to it), told and not told its horizon, and Mechanic around AdamW.
rs mechanic 1e-3 mnemosyne_mechanic,mnemosyne_mechanic_T,adamw_mechanic --pretrained default

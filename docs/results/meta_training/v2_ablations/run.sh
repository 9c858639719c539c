#!/usr/bin/env bash
# Ablations of Mnemosyne v2, each meta-trained from scratch on the v2 recipe (gin_configs/meta_train/v2.gin:
# same families, scale augmentation, TruncatedPES, inner lengths, outer optimizer, selection tasks
# and seed as the shipped default's run) for its first 500 outer steps, one core:
#   no_hpe:  MnemosyneLOpt.use_hpe = False   (chunk tokens only embedded; every chunk its own CAM stream)
#   no_cam:  MnemosyneLOpt.use_cam = False   (the CAM memory is never read: no optimisation history)
#   no_norm: MnemosyneLOpt.normalize_step = False   (the step is not divided by its RMS per tensor)
# Their selection scores (every 100 outer steps) compare with the default's run at the same steps
# (mnemosyne_lopt/pretrained/plain/selection.json).
cd "$(dirname "$0")/../../../.."
for spec in "no_hpe:use_hpe = False" "no_cam:use_cam = False" "no_norm:normalize_step = False"; do
  name=${spec%%:*}; binding=${spec#*:}
  taskset -c 1 .venv/bin/mnemosyne-meta-train --gin_config=meta_train/v2.gin \
    --train_log_dir=runs/v2_ablations/$name \
    --gin_bindings="MnemosyneLOpt.$binding" --gin_bindings="meta_train.num_outer_steps = 500"
done

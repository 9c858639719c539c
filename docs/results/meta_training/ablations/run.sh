#!/bin/bash
# Mnemosyne's ablations meta-trained like Mnemosyne's equal-budget run: mlp_fmnist.gin, 500 outer
# steps, the baselines' wall-clock bound of 715 s; one core. Starts after runs/budget500/rerun.sh.
cd /work/main
while ! grep -q "rnn done" runs/budget500/rerun.log 2>/dev/null; do sleep 20; done
for spec in "no_hpe:MnemosyneLOpt.use_hpe = False" "no_discount:MnemosyneLOpt.tau = 0.0" \
            "per_coordinate:MnemosyneLOpt.mode = 'per_coordinate'"; do
  name=${spec%%:*}; binding=${spec#*:}
  echo "== $name $(date -u +%T)"
  taskset -c 0 .venv/bin/mnemosyne-meta-train --gin_config gin_configs/meta_train/mlp_fmnist.gin \
     --num_outer_steps 500 --gin_bindings "$binding" --gin_bindings "meta_train.max_seconds = 715" \
     --train_log_dir runs/ablations/$name > runs/ablations/$name.log 2>&1
  echo "== $name done rc $? $(date -u +%T)"
done

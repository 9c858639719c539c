#!/bin/bash
# Session of 2026-12-01/02: the equal-budget runs again (their earlier thetas are gone with the old
# checkout's runs/): Mnemosyne 500 outer steps, then each baseline for the same 715 s wall-clock budget
# as before (what Mnemosyne's 500 steps took then; they take less with today's code): the earlier
# session's own script, ../equal_budget/run_baselines.sh, whose commands this run repeated.
cd /work/main
echo "== mnemosyne $(date -u +%T)"
taskset -c 0 .venv/bin/mnemosyne-meta-train --gin_config gin_configs/meta_train/mlp_fmnist.gin --num_outer_steps 500 \
   --train_log_dir runs/budget500/mnemosyne > runs/budget500/mnemosyne.log 2>&1
echo "== mnemosyne done rc $? $(date -u +%T)"
bash docs/results/meta_training/equal_budget/run_baselines.sh

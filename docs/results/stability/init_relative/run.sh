#!/bin/bash
# mnemosyne(init_scale_reference=0.02) in the stability suite (3 seeds, 600 and 3,000 steps, with
# AdamW beside it), then at 48 seeds, 3,000 steps, on the problems where its factor
# f = max(1, rms(p_0) / 0.02) is largest (regression_mlp64: LeCun kernels of fan-in 16, f ~ 12;
# mlp_init5x; reparam_0.01, stored weights 100x larger) and on reparam_100 (f = 1), on core CORE.
# Usage: bash docs/results/stability/init_relative/run.sh CORE
cd "$(dirname "$0")/../../../.."
out=docs/results/stability/init_relative
taskset -c "${1:-0}" .venv/bin/mnemosyne-stability --optimizers mnemosyne,mnemosyne_T,adamw \
  --init_scale_reference 0.02 --json $out/suite.json --plot $out/suite.png || exit 1
for problem in regression_mlp64 mlp_init5x reparam_0.01 reparam_100; do
  taskset -c "${1:-0}" .venv/bin/mnemosyne-stability --problems $problem --steps 3000 --seeds 48 \
    --optimizers mnemosyne,mnemosyne_T,adamw --init_scale_reference 0.02 \
    --json $out/${problem}_48seeds.json || exit 1
done

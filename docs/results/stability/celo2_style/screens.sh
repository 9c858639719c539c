#!/usr/bin/env bash
# The Celo2-style rule at equal meta-training budget (mnemosyne-stability's celo2_style: the stage 8
# folder's best theta, no weight decay) on the stability suite (8 problems, 600 and 3,000 steps,
# 3 seeds, learning rate 1e-3, AdamW beside it) and on reparam_100 (3,000 steps) at 48 seeds and
# learning rates 1e-3 and 2e-3, as ../reparam100_48seeds/ screens Mnemosyne and AdamW.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
source docs/results/stability/screen.sh
out=docs/results/stability/celo2_style
suite $out celo2_style,adamw
screen $out 48 celo2_style 1e-3 celo2_style
screen $out 48 celo2_style 2e-3 celo2_style

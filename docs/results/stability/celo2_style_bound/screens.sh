#!/usr/bin/env bash
# The Celo2-style rule with Mnemosyne v2's per-coordinate bound (mnemosyne-stability's
# celo2_style_bound: the stage 8 folder's best theta, each coordinate's step at most twice Adam's)
# on the stability suite (8 problems, 600 and 3,000 steps, 3 seeds, learning rate 1e-3, AdamW
# beside it) and on reparam_100 (3,000 steps) at 48 seeds and learning rates 1e-3 and 2e-3, as
# ../celo2_style/ runs the rule without the bound.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
source docs/results/stability/screen.sh
out=docs/results/stability/celo2_style_bound
suite $out celo2_style_bound,adamw
screen $out 48 celo2_style_bound 1e-3 celo2_style_bound
screen $out 48 celo2_style_bound 2e-3 celo2_style_bound

#!/bin/bash
# The pretrained "plain" theta with its matrix steps orthogonalised (mnemosyne_orthogonal:pretrained/plain:
# orthogonalize=True, not meta-trained with it) beside "plain" itself, Muon and AdamW at
# their default learning rates (1e-3), on the nine held_out tasks other than MiniLM's two, seed 0,
# constant learning rate, on core CORE (about 20 minutes with the other core busy).
# Usage: bash docs/results/eval/held_out_orthogonal_option_seed0/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 \
  --optimizers mnemosyne_orthogonal:pretrained/plain,mnemosyne:pretrained/plain,muon,adamw \
  --tasks $tasks \
  --out docs/results/eval/held_out_orthogonal_option_seed0

#!/usr/bin/env bash
# The v2 default against AdamW at 1e-3 and LR-tuned AdamW (1e-4 .. 1e-2, picked on validation loss;
# the quadratic on other instances) on the nine held_out tasks other than MiniLM's two, one seed,
# one core (about 25 minutes).
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,adamw_tuned,mnemosyne:pretrained/plain --seeds 1 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_tuned

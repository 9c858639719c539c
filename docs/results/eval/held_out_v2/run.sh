#!/usr/bin/env bash
# The v2 default against AdamW(1e-3) (and Adam) on nine held_out tasks (MiniLM's two left out), one seed,
# one core: about 20 minutes.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,mnemosyne:pretrained/plain --seeds 1 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2

#!/usr/bin/env bash
# The v2 default against AdamW and Adam, all at learning rate 1e-3 untuned, on the nine held_out
# tasks other than MiniLM's two, 3 seeds, one core (about 40 minutes).
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,mnemosyne:pretrained/plain --seeds 3 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_3seeds

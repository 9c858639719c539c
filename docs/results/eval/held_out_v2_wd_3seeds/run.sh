#!/usr/bin/env bash
# The v2 default as shipped (learning rate 1e-3, weight decay 0.1) against AdamW at 1e-3 with
# optax's weight decay 1e-4 and with Mnemosyne's 0.1, constant learning rate, on the nine
# held_out tasks other than MiniLM's two, 3 seeds, one core.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,adamw_wd0.1,mnemosyne:pretrained/plain --seeds 3 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_wd_3seeds

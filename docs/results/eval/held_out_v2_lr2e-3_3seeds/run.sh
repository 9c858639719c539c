#!/usr/bin/env bash
# The pretrained "plain" (weight decay 0.1) at learning rate 2e-3, the rate chosen on tasks outside
# held_out (../learning_rate_selection/), against AdamW at the same 2e-3, constant, on the nine
# held_out tasks other than MiniLM's two, 3 seeds, one core.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw@2e-3,mnemosyne:pretrained/plain@2e-3 --seeds 3 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_lr2e-3_3seeds

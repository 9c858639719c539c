#!/usr/bin/env bash
# The v2 default as shipped (weight decay 0.1) against AdamW (optax's weight decay 1e-4), both with
# peak learning rate 1e-3 under the same warmup-cosine schedule (5 % linear warmup, cosine to 0),
# on the nine held_out tasks other than MiniLM's two, 3 seeds, one core.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,mnemosyne:pretrained/plain --seeds 3 \
  --schedule warmup_cosine \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_wd_warmup_cosine_3seeds

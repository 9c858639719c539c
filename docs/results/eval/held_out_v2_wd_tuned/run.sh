#!/usr/bin/env bash
# The v2 default as shipped (weight decay 0.1) untuned (learning rate 1e-3) and with its learning
# rate tuned (1e-4 .. 1e-2, picked on validation loss; the quadratic on other instances, as for
# every tuned optimizer), constant, on the nine held_out tasks other than MiniLM's two, one seed,
# one core; then merged (this sweep first, so its Mnemosyne runs are the ones kept) with the
# tuned hand-designed optimizers of held_out_v2_tuned_field and the AdamW runs of
# held_out_v2_tuned_both into held_out_v2_headline_wd.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne:pretrained/plain,mnemosyne_tuned:pretrained/plain --seeds 1 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_wd_tuned
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_wd_tuned docs/results/eval/held_out_v2_tuned_field \
  docs/results/eval/held_out_v2_tuned_both --out docs/results/eval/held_out_v2_headline_wd

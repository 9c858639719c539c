#!/usr/bin/env bash
# The v2 default with its learning rate tuned (1e-4 .. 1e-2, picked on validation loss; the
# quadratic on other instances, as AdamW's) on the nine held_out tasks of held_out_v2_tuned, one
# seed, one core (about 30 minutes); then merged with held_out_v2_tuned (AdamW, tuned AdamW, the
# untuned "plain") into held_out_v2_tuned_both.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_tuned:pretrained/plain --seeds 1 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_mnemosyne_tuned
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_tuned docs/results/eval/held_out_v2_mnemosyne_tuned \
  --out docs/results/eval/held_out_v2_tuned_both

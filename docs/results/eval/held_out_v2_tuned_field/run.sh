#!/usr/bin/env bash
# The hand-designed field beside held_out_v2_tuned_both: Muon, schedule-free AdamW and Lion, each
# tuned on the 5-point grid of evaluation.lr_grid (picked on validation loss; the quadratic on
# other instances), constant learning rate, one seed, the nine held_out tasks other than MiniLM's
# two, one core. Then merged with held_out_v2_tuned_both (AdamW default and tuned, Mnemosyne v2
# default and tuned, same tasks, seed and schedule) into held_out_v2_headline/.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out \
  --optimizers muon_tuned,schedule_free_adamw_tuned,lion_tuned --seeds 1 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_tuned_field
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_tuned_both docs/results/eval/held_out_v2_tuned_field \
  --out docs/results/eval/held_out_v2_headline

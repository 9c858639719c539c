#!/bin/bash
# The tuned hand-designed field at 3 seeds on held_out's nine tasks outside MiniLM: Muon, schedule-free
# AdamW and Lion, each at the learning rate of evaluation.lr_grid picked per task on the mean final
# validation loss of the 3 seeds (the quadratic's on other instances), constant rate, one core per
# invocation:
#   bash docs/results/eval/held_out_tuned_field_3seeds/run.sh CORE NAME...
# (NAME: muon_tuned, schedule_free_adamw_tuned, lion_tuned) evaluates each NAME into
# runs/eval_tuned_field_3seeds/NAME;
#   bash docs/results/eval/held_out_tuned_field_3seeds/run.sh merge NAME...
# merges those with ../held_out_adamw_tuned_3seeds/ (mnemosyne() untuned, "plain", AdamW at 1e-3 and
# LR-tuned AdamW; the same tasks, seeds and batches) into this folder.
cd "$(dirname "$0")/../../../.."
action=$1; shift
source docs/results/eval/held_out_tasks.sh
source docs/results/eval/field_sweep.sh
runs=runs/eval_tuned_field_3seeds/
if [ "$action" = merge ]; then
  field_sweep merge $runs docs/results/eval/held_out_adamw_tuned_3seeds docs/results/eval/held_out_tuned_field_3seeds "$@"
else
  EVAL_ARGS=(--suite held_out --seeds 3 --tasks $tasks)
  field_sweep "$action" $runs "$@"
fi

#!/bin/bash
# The tuned hand-designed field at 3 seeds on held_out's nine tasks outside MiniLM with the
# warmup-cosine schedule for every optimizer (mnemosyne-eval --schedule warmup_cosine: linear warmup
# over the first 5 % of steps, cosine decay to 0): Muon, Lion and schedule-free AdamW, each at the
# peak rate of evaluation.lr_grid picked per task on the mean final validation loss of the 3 seeds
# (the quadratic's on other instances), one core per invocation:
#   bash docs/results/eval/held_out_tuned_field_warmup_cosine_3seeds/run.sh CORE NAME...
# (NAME: muon_tuned, lion_tuned, schedule_free_adamw_tuned) evaluates each NAME into
# runs/eval_tuned_field_wc_3seeds/NAME;
#   bash docs/results/eval/held_out_tuned_field_warmup_cosine_3seeds/run.sh merge NAME...
# merges those with ../held_out_mechanic_warmup_cosine_3seeds/ (mnemosyne_mechanic, adamw_mechanic,
# the default mnemosyne() at peak 1e-3, AdamW at peak 1e-3 and LR-tuned AdamW, the same schedule,
# tasks, seeds and batches) into this folder.
cd "$(dirname "$0")/../../../.."
action=$1; shift
source docs/results/eval/held_out_tasks.sh
source docs/results/eval/field_sweep.sh
runs=runs/eval_tuned_field_wc_3seeds/
if [ "$action" = merge ]; then
  field_sweep merge $runs docs/results/eval/held_out_mechanic_warmup_cosine_3seeds \
    docs/results/eval/held_out_tuned_field_warmup_cosine_3seeds "$@"
else
  EVAL_ARGS=(--suite held_out --seeds 3 --tasks $tasks --schedule warmup_cosine)
  field_sweep "$action" $runs "$@"
fi

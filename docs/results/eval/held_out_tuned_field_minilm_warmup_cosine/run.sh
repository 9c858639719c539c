#!/bin/bash
# The tuned hand-designed field on held_out's two MiniLM tasks, seed 0, with the warmup-cosine
# schedule (mnemosyne-eval --schedule warmup_cosine: linear warmup over the first 5 % of the 300
# steps, cosine decay to 0), each NAME at the peak rate of evaluation.lr_grid picked on final
# validation loss, one core per invocation:
#   bash docs/results/eval/held_out_tuned_field_minilm_warmup_cosine/run.sh CORE finetune|prompt NAME...
# (NAME: adamw_tuned, muon_tuned, schedule_free_adamw_tuned, lion_tuned) evaluates each NAME into
# runs/eval_tuned_field_wc_minilm/TASK_NAME;
#   bash docs/results/eval/held_out_tuned_field_minilm_warmup_cosine/run.sh merge DIR...
# merges those runs (DIR: TASK_NAME) with ../held_out_mechanic_minilm_warmup_cosine/
# (mnemosyne_mechanic and Adam at peak 1e-3, the same schedule, seed and batches) into this folder;
#   bash docs/results/eval/held_out_tuned_field_minilm_warmup_cosine/run.sh extend CORE
# extends the prompt-tuning picks at a grid's end (mnemosyne-eval --extend_grids --tasks
# minilm_prompt_austen; 45 minutes on one core, the other busy), merges them over this folder's results and writes them here
# (results.json gzipped).
cd "$(dirname "$0")/../../../.."
action=$1; shift
source docs/results/eval/field_sweep.sh
runs=runs/eval_tuned_field_wc_minilm/
out=docs/results/eval/held_out_tuned_field_minilm_warmup_cosine
if [ "$action" = extend ]; then
  mkdir -p $runs
  taskset -c "$1" .venv/bin/mnemosyne-eval --extend_grids $out --tasks minilm_prompt_austen \
    --out ${runs}prompt_extended || exit 1
  .venv/bin/mnemosyne-eval --merge ${runs}prompt_extended $out --out ${runs}extended > /dev/null || exit 1
  cp ${runs}extended/{results.md,summary.png} $out/
  exec gzip -9 -n -c ${runs}extended/results.json > $out/results.json.gz
fi
if [ "$action" = merge ]; then
  field_sweep merge $runs docs/results/eval/held_out_mechanic_minilm_warmup_cosine \
    docs/results/eval/held_out_tuned_field_minilm_warmup_cosine "$@"
else
  task=$1; shift
  EVAL_ARGS=(--suite held_out --seeds 1 --tasks "minilm_${task}_austen" --schedule warmup_cosine)
  field_sweep "$action" "$runs${task}_" "$@"
fi

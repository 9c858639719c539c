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
# (mnemosyne_mechanic and Adam at peak 1e-3, the same schedule, seed and batches) into this folder.
cd "$(dirname "$0")/../../../.."
action=$1; shift
runs=runs/eval_tuned_field_wc_minilm
out=docs/results/eval/held_out_tuned_field_minilm_warmup_cosine
if [ "$action" = merge ]; then
  dirs=()
  for name in "$@"; do dirs+=("$runs/$name"); done
  exec .venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_mechanic_minilm_warmup_cosine \
    "${dirs[@]}" --out "$out"
fi
task=$1; shift
mkdir -p "$runs"
for name in "$@"; do
  echo "== eval $task $name $(date -u +%T)"
  taskset -c "$action" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks "minilm_${task}_austen" \
    --schedule warmup_cosine --optimizers "$name" --out "$runs/${task}_$name" > "$runs/${task}_$name.log" 2>&1
  echo "== eval $task $name done rc $? $(date -u +%T)"
done

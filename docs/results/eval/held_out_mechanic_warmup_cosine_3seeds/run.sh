#!/bin/bash
# held_out's nine tasks outside MiniLM, 3 seeds, every optimizer with the warmup-cosine schedule
# (mnemosyne-eval --schedule warmup_cosine: linear warmup over the first 5 % of steps, cosine decay
# to 0), one core per invocation:
#   bash docs/results/eval/held_out_mechanic_warmup_cosine_3seeds/run.sh CORE mechanic
#     mnemosyne_mechanic and adamw_mechanic (schedule peak 1.0, their step length by Mechanic);
#   bash docs/results/eval/held_out_mechanic_warmup_cosine_3seeds/run.sh CORE tuned
#     AdamW at peak 1e-3 and LR-tuned AdamW (peak picked per task from 1e-4 .. 1e-2 on the mean
#     final validation loss of the 3 seeds; the quadratic's on other instances);
#   bash docs/results/eval/held_out_mechanic_warmup_cosine_3seeds/run.sh CORE default
#     the shipped default mnemosyne() at peak 1e-3;
#   bash docs/results/eval/held_out_mechanic_warmup_cosine_3seeds/run.sh merge
#     merges the three into this folder.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_mechanic_warmup_cosine_3seeds
if [ "$1" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge runs/eval_mechanic_wc_3seeds runs/eval_adamw_tuned_wc_3seeds \
    runs/eval_default_wc_3seeds --out $out
fi
case "$2" in
  mechanic) optimizers=mnemosyne_mechanic,adamw_mechanic; dir=runs/eval_mechanic_wc_3seeds ;;
  tuned) optimizers=adamw,adamw_tuned; dir=runs/eval_adamw_tuned_wc_3seeds ;;
  default) optimizers=mnemosyne:pretrained; dir=runs/eval_default_wc_3seeds ;;
  *) echo "usage: run.sh CORE mechanic|tuned|default, or run.sh merge" >&2; exit 2 ;;
esac
mkdir -p runs
taskset -c "$1" .venv/bin/mnemosyne-eval --suite held_out --optimizers $optimizers --schedule warmup_cosine \
  --seeds 3 --tasks $tasks --out $dir > $dir.log 2>&1

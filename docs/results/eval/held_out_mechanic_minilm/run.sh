#!/bin/bash
# mnemosyne_mechanic (the shipped default's update, its length learned by Mechanic, constant
# schedule at peak 1.0) on held_out's two MiniLM tasks, on core CORE (about 20 minutes a task and
# seed, Adam's run included): seed 0, or with --seeds12 seeds 1 and 2; merge joins the seeds and
# merges them with the shipped default's 3-seed runs there (../held_out_orthogonal_minilm_3seeds/:
# mnemosyne() at 1e-3, "plain", Adam; the same batches) into this folder.
# Usage: bash docs/results/eval/held_out_mechanic_minilm/run.sh CORE finetune|prompt [--seeds12]
#        bash docs/results/eval/held_out_mechanic_minilm/run.sh merge
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_mechanic_minilm
if [ "$1" = merge ]; then
  for t in finetune prompt; do
    .venv/bin/mnemosyne-eval --merge runs/eval_mechanic_minilm_$t runs/eval_mechanic_minilm_${t}_s12 \
      --join_seeds --out runs/eval_mechanic_minilm_${t}_3seeds > /dev/null || exit 1
  done
  exec .venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_orthogonal_minilm_3seeds \
    runs/eval_mechanic_minilm_finetune_3seeds runs/eval_mechanic_minilm_prompt_3seeds --out $out
fi
mkdir -p runs
dir=runs/eval_mechanic_minilm_$2 seeds=(--seeds 1)
if [ "$3" = --seeds12 ]; then dir=${dir}_s12 seeds=(--seeds 2 --first_seed 1); fi
taskset -c "$1" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_mechanic "${seeds[@]}" \
  --tasks minilm_$2_austen --out $dir > $dir.log 2>&1

#!/bin/bash
# mnemosyne_mechanic (the shipped default's update, its length learned by Mechanic, constant
# schedule at peak 1.0) on held_out's two MiniLM tasks, seed 0, on core CORE (about 25 minutes a
# task, Adam's run included); merged with the shipped default's seed-0 runs there
# (../held_out_orthogonal_minilm/: mnemosyne() at 1e-3, Adam; the same batches) into this folder.
# Usage: bash docs/results/eval/held_out_mechanic_minilm/run.sh CORE finetune|prompt
#        bash docs/results/eval/held_out_mechanic_minilm/run.sh merge
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_mechanic_minilm
if [ "$1" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_orthogonal_minilm \
    runs/eval_mechanic_minilm_finetune runs/eval_mechanic_minilm_prompt --out $out
fi
mkdir -p runs
taskset -c "$1" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_mechanic --seeds 1 \
  --tasks minilm_$2_austen --out runs/eval_mechanic_minilm_$2 > runs/eval_mechanic_minilm_$2.log 2>&1

#!/bin/bash
# The default, the pretrained "orthogonal" (weight decay 0.1), with its learning rate tuned
# (mnemosyne_tuned: 1e-4 .. 1e-2, constant, picked on validation loss) on one of held_out's two
# MiniLM tasks, seed 0, on core CORE (Adam's run at 1e-3 included); merge puts both tasks into
# this folder.  LR-tuned Adam on the same tasks and seed: ../held_out/.
# Usage: bash docs/results/eval/held_out_orthogonal_tuned_minilm/run.sh CORE finetune|prompt
#        bash docs/results/eval/held_out_orthogonal_tuned_minilm/run.sh merge
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_orthogonal_tuned_minilm
if [ "$1" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge runs/eval_orthogonal_tuned_minilm_finetune \
    runs/eval_orthogonal_tuned_minilm_prompt --out $out
fi
mkdir -p runs
dir=runs/eval_orthogonal_tuned_minilm_$2
taskset -c "$1" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 \
  --optimizers mnemosyne_tuned:pretrained/orthogonal --tasks minilm_$2_austen --out $dir > $dir.log 2>&1

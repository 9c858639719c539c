#!/bin/bash
# The shipped default (pretrained "orthogonal", weight decay 0.1, per-coordinate bound 2) at constant
# learning rate 3e-3, the rate ../learning_rate_selection_orthogonal/ picks on the selection tasks,
# beside AdamW at 3e-3 (and the reference Adam at 1e-3), held_out, 3 seeds, on core CORE:
#   bash run.sh nine CORE        held_out's nine tasks outside MiniLM (about 40 minutes)
#   bash run.sh finetune CORE    MiniLM fine-tuning (about an hour)
#   bash run.sh prompt CORE      MiniLM prompt tuning (about 40 minutes)
#   bash run.sh merge            all three into this folder
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_default_lr3e-3_3seeds
opts=mnemosyne:pretrained@3e-3,adamw@3e-3
mkdir -p runs
case "$1" in
  nine) t=$tasks ;;
  finetune|prompt) t=minilm_$1_austen ;;
  merge)
    exec .venv/bin/mnemosyne-eval --merge runs/eval_lr3e-3_nine runs/eval_lr3e-3_finetune \
      runs/eval_lr3e-3_prompt --out $out ;;
  *) echo "usage: bash $out/run.sh nine|finetune|prompt CORE, then bash $out/run.sh merge"; exit 1 ;;
esac
taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers $opts --seeds 3 --tasks $t \
  --out runs/eval_lr3e-3_$1 > runs/eval_lr3e-3_$1.log 2>&1

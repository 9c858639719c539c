#!/bin/bash
# The shipped default (pretrained "orthogonal", weight decay 0.1, per-coordinate bound 2) at constant
# learning rate 3e-3, the rate ../learning_rate_selection_orthogonal/ picks on the selection tasks,
# beside AdamW at 3e-3 (and the reference Adam at 1e-3), held_out, 3 seeds, on core CORE:
#   bash run.sh nine CORE        held_out's nine tasks outside MiniLM (about 40 minutes)
#   bash run.sh finetune CORE [--seeds01|--seed2]   MiniLM fine-tuning (about 30 minutes a seed;
#                                seeds 0-2, or 0-1 and 2 apart on two cores)
#   bash run.sh prompt CORE      MiniLM prompt tuning (about 40 minutes)
#   bash run.sh merge            all three into this folder (fine-tuning's seeds joined if split);
#                                then: PYTHONPATH=. .venv/bin/python <this folder>/summarize.py
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_default_lr3e-3_3seeds
opts=mnemosyne:pretrained@3e-3,adamw@3e-3
mkdir -p runs
case "$1" in
  nine) t=$tasks ;;
  finetune|prompt) t=minilm_$1_austen ;;
  merge)
    if [ -d runs/eval_lr3e-3_finetune_seed2 ]; then
      .venv/bin/mnemosyne-eval --merge runs/eval_lr3e-3_finetune_seeds01 runs/eval_lr3e-3_finetune_seed2 \
        --join_seeds --out runs/eval_lr3e-3_finetune > /dev/null || exit 1
    fi
    .venv/bin/mnemosyne-eval --merge runs/eval_lr3e-3_nine runs/eval_lr3e-3_finetune \
      runs/eval_lr3e-3_prompt --out $out || exit 1
    gzip -f -n $out/results.json
    exit 0 ;;
  *) echo "usage: bash $out/run.sh nine|finetune|prompt CORE, then bash $out/run.sh merge"; exit 1 ;;
esac
name=$1 seeds=(--seeds 3)
case "$3" in
  --seeds01) name=${1}_seeds01 seeds=(--seeds 2) ;;
  --seed2) name=${1}_seed2 seeds=(--seeds 1 --first_seed 2) ;;
esac
taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers $opts "${seeds[@]}" --tasks $t \
  --out runs/eval_lr3e-3_$name > runs/eval_lr3e-3_$name.log 2>&1

#!/bin/bash
# The Celo2-style rule at equal budget (../../meta_training/v2_small_stage2/celo2_style, as
# meta-trained but for its learning rate) at 3e-4, the rate ../learning_rate_selection_celo2_style/
# picks for it by the rule that picked mnemosyne()'s 3e-3, on held_out, 3 seeds, on core CORE:
#   bash run.sh nine CORE        held_out's nine tasks outside MiniLM (mnemosyne-eval, Adam's
#                                reference runs included; about 40 minutes)
#   bash run.sh finetune CORE    MiniLM fine-tuning, seeds 0-2 (../minilm_finetune_runs.py: no
#                                reference runs; about 10 minutes a seed)
#   bash run.sh prompt CORE      MiniLM prompt tuning, the same (about 5 minutes a seed)
#   bash run.sh merge            the nine tasks' sweep into this folder
# then: PYTHONPATH=. .venv/bin/python <this folder>/../held_out_default_lr3e-3_3seeds/summarize.py
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_celo2_style_lr3e-4_3seeds
opt=celo2_style:docs/results/meta_training/v2_small_stage2/celo2_style@3e-4
mkdir -p runs
case "$1" in
  nine)
    taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers $opt --seeds 3 --tasks $tasks \
      --out runs/eval_celo2_lr3e-4_nine > runs/eval_celo2_lr3e-4_nine.log 2>&1 ;;
  finetune|prompt)
    taskset -c "${2:-0}" .venv/bin/python docs/results/eval/minilm_finetune_runs.py $opt 0,1,2 \
      $out/minilm_$1.json --task minilm_$1_austen > runs/eval_celo2_lr3e-4_$1.log 2>&1 ;;
  merge)
    .venv/bin/mnemosyne-eval --merge runs/eval_celo2_lr3e-4_nine --out $out > /dev/null || exit 1
    gzip -f -n $out/results.json ;;
  *) echo "usage: bash $out/run.sh nine|finetune|prompt CORE, or merge"; exit 1 ;;
esac

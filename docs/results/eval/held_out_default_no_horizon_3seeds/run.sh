#!/bin/bash
# mnemosyne() as a user gets it with no num_steps (the task's length withheld:
# mnemosyne_no_horizon:pretrained@3e-3, learning rate 3e-3, weight decay 0.1) on held_out, 3 seeds,
# on core CORE; every other held_out figure of the default tells it the task's length, as
# mnemosyne(num_steps=T) (../held_out_default_lr3e-3_3seeds/):
#   bash run.sh nine CORE        held_out's nine tasks outside MiniLM (mnemosyne-eval, Adam's
#                                reference runs included; about 35 minutes)
#   bash run.sh prompt CORE      MiniLM prompt tuning, seeds 0-2 (../minilm_finetune_runs.py: no
#                                reference runs; about 6 minutes a seed)
#   bash run.sh finetune CORE    MiniLM fine-tuning, the same (about 12 minutes a seed)
#   bash run.sh merge            the nine tasks' sweep into this folder
# then: PYTHONPATH=. .venv/bin/python <this folder>/summarize.py
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_default_no_horizon_3seeds
opt=mnemosyne_no_horizon:pretrained@3e-3
mkdir -p runs
case "$1" in
  nine)
    taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers $opt --seeds 3 --tasks $tasks \
      --out runs/eval_no_horizon_nine > runs/eval_no_horizon_nine.log 2>&1 ;;
  finetune|prompt)
    taskset -c "${2:-0}" .venv/bin/python docs/results/eval/minilm_finetune_runs.py $opt 0,1,2 \
      $out/minilm_$1.json --task minilm_$1_austen > runs/eval_no_horizon_$1.log 2>&1 ;;
  merge)
    .venv/bin/mnemosyne-eval --merge runs/eval_no_horizon_nine --out $out > /dev/null || exit 1
    gzip -f -n $out/results.json ;;
  *) echo "usage: bash $out/run.sh nine|finetune|prompt CORE, or merge"; exit 1 ;;
esac

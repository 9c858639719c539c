#!/bin/bash
# mnemosyne_mechanic with its default shape told the horizon (warmup over 5 % of the steps, cosine
# decay to 0: mnemosyne-eval --schedule warmup_cosine, Adam on the same schedule beside it) on
# held_out's two MiniLM tasks, on core CORE (about 20 minutes a task and seed, Adam's run
# included): seed 0, or with --seeds12 seeds 1 and 2; merge puts seed 0 of both tasks into this
# folder, merge3 joins seeds 0-2 of both tasks into seeds3/.
# Usage: bash docs/results/eval/held_out_mechanic_minilm_warmup_cosine/run.sh CORE finetune|prompt [--seeds12]
#        bash docs/results/eval/held_out_mechanic_minilm_warmup_cosine/run.sh merge|merge3
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_mechanic_minilm_warmup_cosine
if [ "$1" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge runs/eval_mechanic_wc_minilm_finetune runs/eval_mechanic_wc_minilm_prompt \
    --out $out
fi
if [ "$1" = merge3 ]; then
  .venv/bin/mnemosyne-eval --merge runs/eval_mechanic_wc_minilm_finetune_s12 runs/eval_mechanic_wc_minilm_prompt_s12 \
    --out runs/eval_mechanic_wc_minilm_s12 > /dev/null || exit 1
  exec .venv/bin/mnemosyne-eval --merge $out runs/eval_mechanic_wc_minilm_s12 --join_seeds --out $out/seeds3
fi
mkdir -p runs
dir=runs/eval_mechanic_wc_minilm_$2 seeds=(--seeds 1)
if [ "$3" = --seeds12 ]; then dir=${dir}_s12 seeds=(--seeds 2 --first_seed 1); fi
taskset -c "$1" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_mechanic --schedule warmup_cosine \
  "${seeds[@]}" --tasks minilm_$2_austen --out $dir > $dir.log 2>&1

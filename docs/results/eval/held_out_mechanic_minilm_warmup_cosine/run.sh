#!/bin/bash
# mnemosyne_mechanic with its default shape told the horizon (warmup over 5 % of the steps, cosine
# decay to 0: mnemosyne-eval --schedule warmup_cosine, Adam on the same schedule beside it) on
# held_out's two MiniLM tasks, seed 0, on core CORE (about 20 minutes a task, Adam's run
# included); merge puts both into this folder.
# Usage: bash docs/results/eval/held_out_mechanic_minilm_warmup_cosine/run.sh CORE finetune|prompt
#        bash docs/results/eval/held_out_mechanic_minilm_warmup_cosine/run.sh merge
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_mechanic_minilm_warmup_cosine
if [ "$1" = merge ]; then
  exec .venv/bin/mnemosyne-eval --merge runs/eval_mechanic_wc_minilm_finetune runs/eval_mechanic_wc_minilm_prompt \
    --out $out
fi
mkdir -p runs
dir=runs/eval_mechanic_wc_minilm_$2
taskset -c "$1" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_mechanic --schedule warmup_cosine \
  --seeds 1 --tasks minilm_$2_austen --out $dir > $dir.log 2>&1

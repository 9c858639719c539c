#!/bin/bash
# The shipped default with each matrix's step relative to its initial scale
# (mnemosyne_init_relative:pretrained: init_scale_reference=0.02, learning rate 1e-3, weight decay
# 0.1, constant rate) on the nine held_out tasks other than MiniLM's two, 3 seeds, on core CORE;
# then merged with the tuned field of ../held_out_tuned_field_3seeds/ (the default, AdamW and the
# tuned hand-designed optimizers on the same tasks, seeds and batches).
# Usage: bash docs/results/eval/held_out_init_relative_3seeds/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_init_relative_3seeds
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_init_relative:pretrained \
  --seeds 3 --tasks $tasks --out runs/eval_init_relative_3seeds || exit 1
.venv/bin/mnemosyne-eval --merge runs/eval_init_relative_3seeds docs/results/eval/held_out_tuned_field_3seeds --out $out

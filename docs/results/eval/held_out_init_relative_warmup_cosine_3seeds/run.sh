#!/bin/bash
# mnemosyne_init_relative:pretrained (the shipped default with init_scale_reference=0.02) with
# warmup and cosine decay to a peak of 1e-3 (mnemosyne-eval --schedule warmup_cosine) on the nine
# held_out tasks other than MiniLM's two, 3 seeds, on core CORE; then merged with the tuned field
# on the same schedule (../held_out_tuned_field_warmup_cosine_3seeds/: the default, AdamW and the
# tuned hand-designed optimizers, the same tasks, seeds and batches).
# Usage: bash docs/results/eval/held_out_init_relative_warmup_cosine_3seeds/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_init_relative_warmup_cosine_3seeds
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_init_relative:pretrained \
  --seeds 3 --schedule warmup_cosine --tasks $tasks --out runs/eval_init_relative_wc_3seeds || exit 1
.venv/bin/mnemosyne-eval --merge runs/eval_init_relative_wc_3seeds \
  docs/results/eval/held_out_tuned_field_warmup_cosine_3seeds --out $out

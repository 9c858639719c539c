#!/bin/bash
# The default (mnemosyne(), the pretrained "orthogonal", weight decay 0.1) and AdamW, both with
# linear warmup over 5 % of each run to the peak 3e-3 and a cosine decay to 0, on held_out's nine
# tasks outside MiniLM, seed 0, on one core (about 16 minutes, the other core busy):
#   bash docs/results/eval/held_out_orthogonal_warmup_cosine_3e-3/run.sh [CORE]
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
out=docs/results/eval/held_out_orthogonal_warmup_cosine_3e-3
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --schedule warmup_cosine \
  --tasks $tasks \
  --optimizers mnemosyne:pretrained@3e-3,adamw@3e-3 --out "$out"
rm -f "$out"/curves_*.png
gzip -f "$out/results.json"

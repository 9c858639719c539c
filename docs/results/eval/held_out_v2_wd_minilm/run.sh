#!/usr/bin/env bash
# The v2 default as shipped (learning rate 1e-3, weight decay 0.1) on held_out's two MiniLM tasks
# (all-MiniLM-L6-v2 fine-tuned and prompt-tuned on Austen, 300 steps), one seed, one core.  AdamW's
# runs on the same seed are in held_out_v2_minilm/ (its reference Adam runs equal this sweep's).
cd "$(dirname "$0")/../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne:pretrained/plain --seeds 1 \
  --tasks minilm_finetune_austen,minilm_prompt_austen --out docs/results/eval/held_out_v2_wd_minilm

#!/usr/bin/env bash
# The v2 default as shipped (learning rate 1e-3, weight decay 0.1) against AdamW at 1e-3 on
# held_out's two MiniLM tasks (all-MiniLM-L6-v2 fine-tuned and prompt-tuned on Austen, 300 steps),
# constant learning rate, 3 seeds, one core.
cd "$(dirname "$0")/../../../.."
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,mnemosyne:pretrained/plain --seeds 3 \
  --tasks minilm_finetune_austen,minilm_prompt_austen --out docs/results/eval/held_out_v2_wd_minilm_3seeds

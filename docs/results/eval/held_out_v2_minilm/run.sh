#!/usr/bin/env bash
# The v2 default against AdamW, both at 1e-3 untuned, on held_out's two MiniLM tasks (fine-tuning
# and prompt tuning of all-MiniLM-L6-v2 on Austen, 300 steps), one seed, one core.
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers adamw,mnemosyne:pretrained/plain --seeds 1 \
  --tasks minilm_finetune_austen,minilm_prompt_austen --out docs/results/eval/held_out_v2_minilm

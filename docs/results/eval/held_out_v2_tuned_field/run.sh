#!/usr/bin/env bash
# Tuned Muon, schedule-free AdamW and Lion (each at its default learning rate x 10^{-1, -0.5, 0,
# 0.5, 1}, picked per task on validation loss, reported on test) on the nine held_out tasks other
# than MiniLM's two, one seed, constant schedule, one core; then merged with
# held_out_v2_tuned_both (AdamW, tuned AdamW, Mnemosyne v2 default and tuned, same tasks and seed).
cd "$(dirname "$0")/../../../.."
TASKS=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10
taskset -c ${CORE:-1} .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks $TASKS \
  --optimizers muon_tuned,schedule_free_adamw_tuned,lion_tuned --out runs/eval/held_out_v2_tuned_field
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_tuned_both runs/eval/held_out_v2_tuned_field \
  --out docs/results/eval/held_out_v2_tuned_field

#!/usr/bin/env bash
# The optional AdamW harness (mnemosyne_with_adamw_harness: the v2 default for hidden matrices,
# optax.adamw for vectors and embeddings, both at 1e-3 untuned) on the nine held_out tasks of
# held_out_v2_3seeds, 3 seeds, one core; then merged with held_out_v2_3seeds (AdamW and the
# Mnemosyne default, same tasks, seeds and steps) into held_out_v2_harness_merged.
cd "$(dirname "$0")/../../../.."
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_harness --seeds 3 \
  --tasks transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10 \
  --out docs/results/eval/held_out_v2_harness_3seeds
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_3seeds docs/results/eval/held_out_v2_harness_3seeds \
  --out docs/results/eval/held_out_v2_harness_merged

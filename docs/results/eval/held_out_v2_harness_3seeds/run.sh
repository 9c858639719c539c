#!/usr/bin/env bash
# The optional AdamW harness (mnemosyne_with_adamw_harness: the v2 default for hidden matrices,
# optax.adamw for vectors and embeddings, both at 1e-3 untuned) on the nine held_out tasks of
# held_out_v2_3seeds, 3 seeds, one core; then merged with held_out_v2_3seeds (AdamW and the
# Mnemosyne default, same tasks, seeds and steps) into held_out_v2_harness_merged.
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_harness --seeds 3 \
  --tasks $tasks \
  --out docs/results/eval/held_out_v2_harness_3seeds
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_3seeds docs/results/eval/held_out_v2_harness_3seeds \
  --out docs/results/eval/held_out_v2_harness_merged

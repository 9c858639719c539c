#!/bin/bash
# mnemosyne_mechanic (the shipped default's update, its length learned by Mechanic, no learning
# rate) and adamw_mechanic (optax.contrib.mechanize(optax.adamw(1.0))) on held_out's nine tasks
# outside MiniLM, 3 seeds, constant schedule (peak 1.0), on core CORE; merged with the tuned
# hand-designed field at 3 seeds (../held_out_tuned_field_3seeds/: mnemosyne() untuned, "plain",
# AdamW at 1e-3, LR-tuned AdamW, Muon, schedule-free AdamW and Lion; the same tasks, seeds and
# batches) into this folder.
# Usage: bash docs/results/eval/held_out_mechanic_3seeds/run.sh CORE
cd "$(dirname "$0")/../../../.."
source docs/results/eval/held_out_tasks.sh
mkdir -p runs
taskset -c "${1:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_mechanic,adamw_mechanic \
  --seeds 3 --tasks $tasks --out runs/eval_mechanic_3seeds > runs/eval_mechanic_3seeds.log 2>&1 || exit 1
.venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_tuned_field_3seeds runs/eval_mechanic_3seeds \
  --out docs/results/eval/held_out_mechanic_3seeds

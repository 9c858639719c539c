#!/bin/bash
# LR-tuned Adam on held_out's MiniLM prompt tuning, seeds 1 and 2 (seed 0: ../held_out/ and its
# grid's extension ../minilm_prompt_tuned_extended/), on core CORE, then the 3-seed pick:
#   bash docs/results/eval/minilm_prompt_tuned_3seeds/run.sh CORE     (about 5 minutes a run, 10 runs)
#   .venv/bin/python docs/results/eval/minilm_prompt_tuned_3seeds/pick.py > docs/results/eval/minilm_prompt_tuned_3seeds/pick.txt
# Each grid point of adam_tuned (1e-4 .. 1e-2) but 1e-3, whose seeds 1-2 are the reference Adam
# runs of every held_out sweep, and the extension's 3.16e-2; the points near seed 0's pick first.
cd "$(dirname "$0")/../../../.."
here=docs/results/eval/minilm_prompt_tuned_3seeds
run() {
  taskset -c "$1" .venv/bin/python docs/results/eval/minilm_finetune_runs.py adam_tuned 1,2 "$here/$2" \
    --task minilm_prompt_austen "${@:3}" || exit 1
}
run "${1:-0}" adam_grid_high.json --grid_points 4,3
run "${1:-0}" adam_extension.json --rates 0.0316227766016838
run "${1:-0}" adam_grid_low.json --grid_points 0,1

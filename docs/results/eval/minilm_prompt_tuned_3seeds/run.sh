#!/bin/bash
# LR-tuned Adam on held_out's MiniLM prompt tuning, seeds 1 and 2 (seed 0: ../held_out/ and its
# grid's extension ../minilm_prompt_tuned_extended/), on core CORE, then the 3-seed pick:
#   bash docs/results/eval/minilm_prompt_tuned_3seeds/run.sh CORE     (about 6 minutes a run)
#   .venv/bin/python docs/results/eval/minilm_prompt_tuned_3seeds/pick.py > docs/results/eval/minilm_prompt_tuned_3seeds/pick.txt
# The grid points of adam_tuned at and above seed 0's pick's neighbour (3.16e-3, 1e-2; 1e-3's
# seeds 1-2 are the reference Adam runs of every held_out sweep) and the extension's 3.16e-2 on
# seeds 1-2; 3.16e-2 is then the pick on seeds 0-2, the grid's top, so 1e-1 on seeds 0-2, as
# mnemosyne-eval extends a grid picked at its end.  The grid's 1e-4 and 3.16e-4 are left at
# seed 0 (validation 1.8845 and 1.7750, against 1.6938 at the pick); "low" runs them on seeds 1-2.
cd "$(dirname "$0")/../../../.."
here=docs/results/eval/minilm_prompt_tuned_3seeds
run() {
  taskset -c "$1" .venv/bin/python docs/results/eval/minilm_finetune_runs.py adam_tuned "$2" "$here/$3" \
    --task minilm_prompt_austen "${@:4}" || exit 1
}
if [ "$2" = low ]; then run "${1:-0}" 1,2 adam_grid_low.json --grid_points 0,1; exit 0; fi
run "${1:-0}" 1,2 adam_grid_high.json --grid_points 4,3
run "${1:-0}" 1,2 adam_extension.json --rates 0.0316227766016838
run "${1:-0}" 0,1,2 adam_extension_1e-1.json --rates 0.1

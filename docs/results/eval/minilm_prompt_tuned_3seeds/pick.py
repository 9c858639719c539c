"""The 3-seed learning-rate pick of LR-tuned Adam on MiniLM prompt tuning from one-seed grids.

Run from the repository root: .venv/bin/python docs/results/eval/minilm_prompt_tuned_3seeds/pick.py

Seed 0: ``../held_out/``'s ``adam_tuned`` grid (1e-4 .. 1e-2) and its extension to 3.16e-2
(``../minilm_prompt_tuned_extended/adam_tuned/``); seeds 1-2: ``run.sh`` (``adam_*.json`` here) and,
at 1e-3, the reference Adam runs of ``../held_out_default_lr3e-3_3seeds/`` (Adam at 1e-3 is the
grid's 1e-3 point: seed 0's equal to the last digit).  A run depends on its seed only, so the mean
validation loss over seeds 0-2 at each rate is what one ``mnemosyne-eval`` sweep of 3 seeds
computes; the pick is ``evaluation.select_learning_rate`` on those means, as ``run_tuned`` makes
it, among the rates every seed ran.  Prints the grid, the pick and its mean test loss; writes
picks.json beside this script.
"""
import glob
import json
import os
import sys

from mnemosyne_lopt.evaluation import load_results

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(EVAL, "minilm_finetune_tuned_3seeds"))
import pick as finetune_pick  # pylint: disable=g-import-not-at-top,wrong-import-position
TASK = "minilm_prompt_austen"


def main():
  grid = {}      # lr -> {seed: (valid, test)}
  for folder in ("held_out", "minilm_prompt_tuned_extended/adam_tuned"):
    res = load_results(os.path.join(EVAL, folder))
    assert (res.get("first_seed") or 0) == 0 and res["seeds"] == 1, folder
    for g in res["tasks"][TASK]["results"]["adam_tuned"]["grid"]:
      grid.setdefault(g["lr"], {})[0] = (g["mean_final_valid"], g["mean_final_test"])
  reference = load_results(os.path.join(EVAL, "held_out_default_lr3e-3_3seeds"))["tasks"][TASK]
  runs = reference["results"]["adam"]["runs"]
  assert abs(runs[0]["final_valid"] - grid[1e-3][0][0]) < 1e-5, "Adam at 1e-3 is not the grid's point"
  for seed in (1, 2):
    grid[1e-3][seed] = (runs[seed]["final_valid"], runs[seed]["final_test"])
  for path in sorted(glob.glob(os.path.join(HERE, "adam_*.json"))):
    with open(path) as f:
      finetune_pick.add_records(grid, json.load(f))
  out = finetune_pick.pick_on_three_seeds("adam_tuned, MiniLM prompt tuning", grid)
  with open(os.path.join(HERE, "picks.json"), "w") as f:
    json.dump({"adam_tuned": out}, f, indent=1)


if __name__ == "__main__":
  main()

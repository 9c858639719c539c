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

import numpy as np

from mnemosyne_lopt.evaluation import load_results, select_learning_rate

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
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
      for r in json.load(f):
        grid.setdefault(r["lr"], {})[r["seed"]] = (r["final_valid"], r["final_test"])
  full = {lr: s for lr, s in grid.items() if sorted(s) == [0, 1, 2]}
  chosen = select_learning_rate({lr: [s[k][0] for k in range(3)] for lr, s in full.items()})
  out = {"chosen_lr": chosen, "at_grid_edge": chosen in (min(full), max(full)),
         "final_test": float(np.mean([full[chosen][k][1] for k in range(3)])),
         "final_test_per_seed": [full[chosen][k][1] for k in range(3)],
         "grid": [{"lr": lr, "seeds": sorted(s),
                   "mean_final_valid": float(np.mean([v[0] for v in s.values()])),
                   "mean_final_test": float(np.mean([v[1] for v in s.values()]))}
                  for lr, s in sorted(grid.items())]}
  print("adam_tuned, MiniLM prompt tuning")
  for g in out["grid"]:
    print(f"  lr {g['lr']:.3g}  seeds {g['seeds']}  valid {g['mean_final_valid']:.4f}  "
          f"test {g['mean_final_test']:.4f}")
  print(f"  picked {chosen:.3g} on seeds 0-2: test {out['final_test']:.4f} "
        f"({', '.join(f'{x:.4f}' for x in out['final_test_per_seed'])})"
        + ("  [the lowest or highest rate run on seeds 0-2]" if out["at_grid_edge"] else ""))
  with open(os.path.join(HERE, "picks.json"), "w") as f:
    json.dump({"adam_tuned": out}, f, indent=1)


if __name__ == "__main__":
  main()

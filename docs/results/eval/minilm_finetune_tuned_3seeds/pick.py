"""The 3-seed learning-rate picks on MiniLM fine-tuning from one-seed grids.

Run from the repository root: .venv/bin/python docs/results/eval/minilm_finetune_tuned_3seeds/pick.py

A run depends on its seed only, so the mean validation loss over seeds 0-2 at each grid point is
what one ``mnemosyne-eval`` sweep of 3 seeds would compute; the pick is
``evaluation.select_learning_rate`` on those means, as ``run_tuned`` makes it.  Prints per
optimizer the grid (mean validation / test loss over the seeds each point has), the pick and the
mean test loss of its runs, and writes picks.json beside this script.  ``adam_tuned_extension.json``
(``../minilm_finetune_runs.py adam_tuned 0,1,2 ... --rates``) adds rates below tuned Adam's grid,
whose pick is its lowest rate.  ``field_picks`` makes the picks of ``../minilm_prompt_field_3seeds/``
and ``../minilm_finetune_field_3seeds/``.
"""
import json
import os
import sys

import numpy as np

from mnemosyne_lopt.evaluation import load_results, select_learning_rate

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
sys.path.insert(0, EVAL)
import minilm_finetune_runs  # pylint: disable=g-import-not-at-top,wrong-import-position
TASK = "minilm_finetune_austen"


def _load(path):
  with open(path) as f:
    return json.load(f)


def _grid(folder, name, seed):
  """{lr: (valid, test)} of a one-seed tuned sweep of ``name``."""
  res = load_results(os.path.join(EVAL, folder))
  assert (res.get("first_seed") or 0) == seed and res["seeds"] == 1, folder
  r = res["tasks"][TASK]["results"][name]
  return {g["lr"]: (g["mean_final_valid"], g["mean_final_test"]) for g in r["grid"]}


def _runs(folder, name):
  """[(valid, test)] per seed of a plain sweep of ``name``."""
  r = load_results(os.path.join(EVAL, folder))["tasks"][TASK]["results"][name]
  return [(x["final_valid"], x["final_test"]) for x in r["runs"]]


def add_records(grid, records):
  """Adds run records ({lr, seed, final_valid, final_test}, as ``../minilm_finetune_runs.py``
  writes them) to ``grid`` (lr -> {seed: (valid, test)}); returns it."""
  for r in records:
    grid.setdefault(r["lr"], {})[r["seed"]] = (r["final_valid"], r["final_test"])
  return grid


def pick_on_three_seeds(name, grid):
  """The pick over ``grid`` (lr -> {seed: (valid, test)}) on the mean validation loss of seeds
  0-2, among the rates every one of them ran; printed under ``name`` with the grid, returned as
  a picks.json entry."""
  full = {lr: s for lr, s in grid.items() if sorted(s) == [0, 1, 2]}
  chosen = select_learning_rate({lr: [s[k][0] for k in range(3)] for lr, s in full.items()})
  out = {"chosen_lr": chosen, "at_grid_edge": chosen in (min(full), max(full)),
         "final_test": float(np.mean([full[chosen][k][1] for k in range(3)])),
         "final_test_per_seed": [full[chosen][k][1] for k in range(3)],
         "grid": [{"lr": lr, "seeds": sorted(s),
                   "mean_final_valid": float(np.mean([v[0] for v in s.values()])),
                   "mean_final_test": float(np.mean([v[1] for v in s.values()]))}
                  for lr, s in sorted(grid.items())]}
  print(name)
  for g in out["grid"]:
    print(f"  lr {g['lr']:.3g}  seeds {g['seeds']}  valid {g['mean_final_valid']:.4f}  "
          f"test {g['mean_final_test']:.4f}")
  print(f"  picked {chosen:.3g} on seeds 0-2: test {out['final_test']:.4f} "
        f"({', '.join(f'{x:.4f}' for x in out['final_test_per_seed'])})"
        + ("  [the lowest or highest rate run on seeds 0-2]" if out["at_grid_edge"] else ""))
  return out


def field_picks(folder, label):
  """The 3-seed picks of ``minilm_finetune_runs.FIELD`` from NAME.json in ``folder`` (the runs
  of ``tune_on_three_seeds``), printed under ``label`` (the task) and written to picks.json in
  ``folder``: per optimizer the ``pick_on_three_seeds`` entry with its runs' training curves.  An
  optimizer whose rule still needs runs (``minilm_finetune_runs.rule_pick``) has its runs printed
  and no pick."""
  out = {}
  for name in minilm_finetune_runs.FIELD:
    path = os.path.join(folder, f"{name}.json")
    if not os.path.exists(path):
      continue
    with open(path) as f:
      records = json.load(f)
    grid = add_records({}, records)
    rule = minilm_finetune_runs.rule_pick(name, records)
    if rule is None:
      print(f"{name}, {label}: the rule still needs runs (run.py {name} goes on)")
      for lr, seeds in sorted(grid.items()):
        print(f"  lr {lr:.3g}  " + "  ".join(f"seed {k}: valid {v:.4f} test {t:.4f}"
                                           for k, (v, t) in sorted(seeds.items())))
      continue
    entry = pick_on_three_seeds(f"{name}, {label}", grid)
    assert entry["chosen_lr"] == rule, (name, entry["chosen_lr"], rule)
    chosen = {r["seed"]: r for r in records if r["lr"] == entry["chosen_lr"]}
    entry["train_curves"] = [chosen[s]["train_curve"] for s in (0, 1, 2)]
    out[name] = entry
  with open(os.path.join(folder, "picks.json"), "w") as f:
    json.dump(out, f, indent=1)


def main():
  points = {}      # optimizer -> lr -> {seed: (valid, test)}
  adam = points.setdefault("adam_tuned", {})
  for seed, folder in ((0, "held_out"), (1, "minilm_finetune_tuned_3seeds/adam_tuned_seed1"),
                       (2, "minilm_finetune_tuned_3seeds/adam_tuned_seed2")):
    for lr, vt in _grid(folder, "adam_tuned", seed).items():
      adam.setdefault(lr, {})[seed] = vt
  mn = points.setdefault("mnemosyne_tuned:pretrained/orthogonal", {})
  for lr, vt in _grid("held_out_orthogonal_tuned_minilm", "mnemosyne_tuned:pretrained/orthogonal",
                      0).items():
    mn.setdefault(lr, {})[0] = vt
  shipped = _runs("held_out_orthogonal_minilm_finetune_shipped_3seeds", "mnemosyne:pretrained/orthogonal")
  for seed in (1, 2):        # the default at 1e-3 is the grid's 1e-3 point
    mn.setdefault(1e-3, {})[seed] = shipped[seed]
  for seed in (1, 2):
    add_records(mn, _load(os.path.join(HERE, f"mnemosyne_grid_seed{seed}.json")))
  # Rates beyond the grid's end where the pick is there, as run_tuned extends a grid now
  # (../minilm_finetune_runs.py --rates, seeds 0-2).
  for name, file in (("adam_tuned", "adam_tuned_extension.json"),):
    path = os.path.join(HERE, file)
    if os.path.exists(path):
      add_records(points[name], _load(path))
  out = {name: pick_on_three_seeds(name, grid) for name, grid in points.items()}
  with open(os.path.join(HERE, "picks.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()

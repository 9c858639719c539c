"""Muon, schedule-free AdamW or Lion with its learning rate tuned on held_out's MiniLM prompt
tuning (``minilm_prompt_austen``, 300 steps, constant rate), picked on seeds 0-2.

    taskset -c CORE .venv/bin/python docs/results/eval/minilm_prompt_field_3seeds/run.py NAME

NAME: ``muon_tuned``, ``schedule_free_adamw_tuned`` or ``lion_tuned``.  Every run is
``evaluation.run_one`` at ``hyper_at(lr)``, as ``run_tuned`` runs a grid point
(``../minilm_finetune_runs.run_records``); the records go to NAME.json beside this file, after
every run, and a second invocation runs only the seed-rate pairs NAME.json lacks.  The rule, in
the order it runs (a rate's runs depend on its seed only, so each step adds seeds to the rates a
3-seed sweep of ``mnemosyne-eval`` would run, and skips those that cannot be its pick):

1. seed 0 at every rate of the optimizer's grid (``evaluation.lr_grid``: its default x 10^{-1,
   -0.5, 0, 0.5, 1}), then, while seed 0's best validation loss is at the lowest or highest rate
   run, the rate 10^0.5 beyond it (``evaluation.extend_at_edges``, at most 4);
2. seeds 1 and 2 at seed 0's best rate and at its neighbour on each side;
3. the pick: the lowest mean validation loss over seeds 0-2 among the rates every seed ran
   (``evaluation.select_learning_rate``); while it is the lowest or highest of those, the rate
   10^0.5 beyond it on seeds 0-2 (``extend_at_edges`` again).

Rates left at seed 0 are printed with their seed-0 validation loss beside the pick's 3-seed
mean by ``pick.py``, which writes ``picks.json``.
"""
import os
import sys

import mnemosyne_lopt  # noqa: F401  (JAX names learned_optimization needs)
from mnemosyne_lopt import evaluation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import minilm_finetune_runs  # pylint: disable=g-import-not-at-top,wrong-import-position

TASK = "minilm_prompt_austen"
NAMES = ("muon_tuned", "schedule_free_adamw_tuned", "lion_tuned")


def valid_by_rate(records):
  """{lr: {seed: final validation loss}} of a list of run records."""
  out = {}
  for r in records:
    out.setdefault(r["lr"], {})[r["seed"]] = r["final_valid"]
  return out


def main():
  if len(sys.argv) != 2 or sys.argv[1] not in NAMES:
    sys.exit(f"Give one optimizer name among {', '.join(NAMES)}: run.py NAME")
  name = sys.argv[1]
  out = os.path.join(HERE, f"{name}.json")
  log = lambda line: print(line, flush=True)

  def run(seeds, rates):
    return valid_by_rate(minilm_finetune_runs.run_records(name, TASK, seeds, rates, out, log=log))

  # 1. seed 0 over the grid, extended while its best is at an end.
  grid = evaluation.make_optimizer(name).grid
  valid = run([0], grid)
  scores = {lr: [valid[lr][0]] for lr in grid}
  evaluation.extend_at_edges(lambda lr: (None, [run([0], [lr])[lr][0]]), {}, scores)
  # 2. seeds 1-2 at seed 0's best rate and its two neighbours.
  rates = sorted(scores)
  best = rates.index(evaluation.select_learning_rate(scores))
  chosen = rates[max(best - 1, 0):best + 2]
  valid = run([1, 2], chosen)
  # 3. the 3-seed pick, extended while it is at an end of the rates every seed ran.
  three = {lr: [valid[lr][s] for s in (0, 1, 2)] for lr in chosen}
  evaluation.extend_at_edges(lambda lr: (None, [run([0, 1, 2], [lr])[lr][s] for s in (0, 1, 2)]),
                             {}, three)
  log(f"{name}: picked {evaluation.select_learning_rate(three):.3g} on seeds 0-2 "
      f"(pick.py prints the grid)")


if __name__ == "__main__":
  main()

"""Runs of one optimizer on held_out's MiniLM fine-tuning (``minilm_finetune_austen``; or, with
``--task minilm_prompt_austen``, its prompt tuning) through ``evaluation.run_one``, the runner of
``mnemosyne-eval``, without Adam's reference runs.

    .venv/bin/python docs/results/eval/minilm_finetune_runs.py OPTIMIZER SEEDS OUT.json \
        [--grid_points I,J | --rates R1,R2] [--newton_schulz direct] [--task minilm_prompt_austen]

SEEDS is a comma-separated list.  ``--grid_points`` runs a tuned optimizer (a ``_tuned`` name) at
those indices of its learning-rate grid, each as ``run_tuned`` runs a point (``hyper_at(lr)``),
``--rates`` at those learning rates (beyond the grid: the points ``run_tuned`` adds where the pick
is at the grid's end); without either the optimizer runs at its own rate.  ``--newton_schulz direct`` replaces the Gram form
the code takes on wide matrices by the direct recursion on every matrix.  OUT receives a list of
records {optimizer, task, seed, lr, final_test, final_valid, train_curve} (lr null at the
optimizer's own rate; train_curve, the run's training losses, is absent from the files this
folder's older sweeps committed), rewritten after every run; where OUT exists its records are
kept and their seed-rate pairs not run again (an interrupted or extended run resumes), which
requires them to be of the same optimizer and task.  ``run_records`` is the same for other
scripts, and ``tune_on_three_seeds`` tunes a rate on seeds 0-2 through it (the rule of
``minilm_prompt_field_3seeds/`` and ``minilm_finetune_field_3seeds/``).
"""
import argparse
import json
import os
import sys
import time

import mnemosyne_lopt  # noqa: F401  (JAX names learned_optimization needs)
from mnemosyne_lopt import evaluation, orthogonalize

TASKS = ("minilm_finetune_austen", "minilm_prompt_austen")
FIELD = ("muon_tuned", "schedule_free_adamw_tuned", "lion_tuned")


def run_records(optimizer, task, seeds, rates, out, log=print):
  """Runs ``optimizer`` on ``task`` for every seed in ``seeds`` at every rate in ``rates`` (None:
  its own rate) that OUT's records lack, appending each run's record to OUT as it ends; returns
  OUT's records.  Raises ValueError where OUT holds runs of another optimizer or task."""
  opt = evaluation.make_optimizer(optimizer)
  spec = next(s for s in evaluation.suite("held_out") if s.name == task)
  if any(lr is not None for lr in rates) and opt.grid is None:
    raise ValueError(f"{optimizer} has no learning-rate grid; give a _tuned optimizer.")
  cache, records = {}, []
  if os.path.exists(out):
    with open(out) as f:
      records = json.load(f)
    other = {(r["optimizer"], r["task"]) for r in records} - {(optimizer, task)}
    if other:
      raise ValueError(f"{out} holds runs of {sorted(other)}; give another OUT file for "
                       f"{optimizer} on {task}.")
  done = {(r["seed"], r["lr"]) for r in records}
  for seed in seeds:
    for lr in rates:
      if (seed, lr) in done:
        log(f"{optimizer} seed {seed} lr {lr}: in {out}, not run again")
        continue
      start = time.time()
      r = evaluation.run_one(opt, opt.hyper if lr is None else opt.hyper_at(lr), spec, seed,
                             spec.num_steps, cache)
      records.append({"optimizer": optimizer, "task": task, "seed": seed, "lr": lr,
                      "final_test": r["final_test"], "final_valid": r["final_valid"],
                      "train_curve": [float(x) for x in r["train_curve"]]})
      log(f"{optimizer} seed {seed} lr {lr}: test {r['final_test']:.4f}  valid "
          f"{r['final_valid']:.4f}  ({time.time() - start:.0f} s)")
      with open(out, "w") as f:
        json.dump(records, f, indent=1)
  return records


def valid_by_rate(records):
  """{lr: {seed: final validation loss}} of a list of run records."""
  out = {}
  for r in records:
    out.setdefault(r["lr"], {})[r["seed"]] = r["final_valid"]
  return out


def tune_on_three_seeds(name, task, out, log=print):
  """Tunes the constant learning rate of ``name`` (a ``_tuned`` optimizer) on ``task``, picked
  on seeds 0-2; the runs go to OUT through ``run_records`` (so a second call runs only the
  seed-rate pairs OUT lacks).  The rule, in the order it runs (a rate's runs depend on its seed
  only, so each step adds seeds to the rates a 3-seed sweep of ``mnemosyne-eval`` would run, and
  skips those that cannot be its pick):

  1. seed 0 at every rate of the optimizer's grid (``evaluation.lr_grid``: its default x 10^{-1,
     -0.5, 0, 0.5, 1}), then, while seed 0's best validation loss is at the lowest or highest rate
     run, the rate 10^0.5 beyond it (``evaluation.extend_at_edges``, at most 4);
  2. seeds 1 and 2 at seed 0's best rate and at its neighbour on each side;
  3. the pick: the lowest mean validation loss over seeds 0-2 among the rates every seed ran
     (``evaluation.select_learning_rate``); while it is the lowest or highest of those, the rate
     10^0.5 beyond it on seeds 0-2 (``extend_at_edges`` again).

  Returns the pick."""
  pick = _rule(name, lambda seeds, rates: valid_by_rate(run_records(name, task, seeds, rates, out,
                                                                    log=log)))
  log(f"{name} on {task}: picked {pick:.3g} on seeds 0-2")
  return pick


class _Missing(Exception):
  """A run the rule needs is not in the records."""


def rule_pick(name, records):
  """The pick ``tune_on_three_seeds`` makes from ``records`` without running anything, or None
  while the rule still needs a run that ``records`` lack."""
  valid = valid_by_rate(records)

  def lookup(seeds, rates):
    if any(s not in valid.get(lr, {}) for s in seeds for lr in rates):
      raise _Missing()
    return valid
  try:
    return _rule(name, lookup)
  except _Missing:
    return None


def _rule(name, run):
  """The rule of ``tune_on_three_seeds``; ``run(seeds, rates)`` -> {lr: {seed: validation loss}}
  holding at least those runs."""
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
  return evaluation.select_learning_rate(three)


def field_main(task, folder):
  """``run.py NAME`` of a folder of field runs on ``task``: ``tune_on_three_seeds`` of NAME (one
  of ``FIELD``) into NAME.json in ``folder``."""
  if len(sys.argv) != 2 or sys.argv[1] not in FIELD:
    sys.exit(f"Give one optimizer name among {', '.join(FIELD)}: run.py NAME")
  tune_on_three_seeds(sys.argv[1], task, os.path.join(folder, f"{sys.argv[1]}.json"),
                      log=lambda line: print(line, flush=True))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("optimizer")
  parser.add_argument("seeds")
  parser.add_argument("out")
  parser.add_argument("--grid_points", default=None)
  parser.add_argument("--rates", default=None)
  parser.add_argument("--newton_schulz", choices=("gram", "direct"), default="gram")
  parser.add_argument("--task", choices=TASKS, default=TASKS[0])
  args = parser.parse_args()
  if args.newton_schulz == "direct":
    orthogonalize._newton_schulz_gram = orthogonalize._newton_schulz_direct  # pylint: disable=protected-access
  if args.grid_points is not None and args.rates is not None:
    parser.error("Give --grid_points or --rates, not both.")
  grid = evaluation.make_optimizer(args.optimizer).grid
  if args.grid_points is not None and grid is None:
    parser.error(f"{args.optimizer} has no learning-rate grid; give a _tuned optimizer.")
  rates = ([grid[int(i)] for i in args.grid_points.split(",")] if args.grid_points is not None
           else [float(r) for r in args.rates.split(",")] if args.rates is not None else [None])
  try:
    run_records(args.optimizer, args.task, [int(s) for s in args.seeds.split(",")], rates, args.out,
                log=lambda line: print(line, flush=True))
  except ValueError as e:
    parser.error(str(e))


if __name__ == "__main__":
  main()

"""Selection of the default weight decay of ``mnemosyne_lopt.mnemosyne()`` on tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/weight_decay_selection/wd_select.py [--seeds 2]

Mnemosyne v2 (the shipped "plain" theta, learning rate 1e-3, constant) with decoupled weight
decay lambda in {0, 0.01, 0.03, 0.1, 0.3, 1} (p <- p - lr (Delta + lambda p)), and optax.adamw(1e-3)
at its default weight decay 1e-4 and at 0.1, on five selection tasks that share no data set with
held_out's tasks (Fashion-MNIST, scikit-learn digits, Austen; held_out trains on MNIST, the KJV,
Austen only for BERT and MiniLM, and the LM below is a different task: a causal byte LM from the
meta-training recipe v2_lm.gin's family, which held_out's LMs are not), through the harness of
mnemosyne-eval (``evaluation.run_one``: same batches, evaluation batches and seeds).  The pick is
the lambda whose final *validation* loss is below AdamW's (default) on the most tasks (the
project's target measure), ties broken by the lowest geometric mean over the tasks of validation
loss relative to lambda = 0's; both criteria are printed.  Test losses are reported, not used.
Writes results.json, results.md, selection.png next to this file; ``--summary_only`` rewrites the
last two from results.json without training.
"""
import argparse
import json
import os
import sys

import jax
import numpy as np
import optax

import mnemosyne_lopt
from mnemosyne_lopt import evaluation
from mnemosyne_lopt.outer_trainers import meta_training

HERE = os.path.dirname(os.path.abspath(__file__))
GRID = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)


def _image(dataset, size, hidden, activation="relu", batch_size=128, train_size=None):
  from mnemosyne_lopt.tasks import image_mlp  # pylint: disable=g-import-not-at-top
  return lambda seed: image_mlp.ImageMLP(dataset, size, hidden, batch_size=batch_size, seed=seed,
                                         activation=activation, train_size=train_size)


def _austen_lm(seed):
  from mnemosyne_lopt.tasks import registry, text_tasks  # pylint: disable=g-import-not-at-top,unused-import
  family = registry.build("transformer_lm_family_austen_tiny")
  return family.task_fn(family.sample(jax.random.PRNGKey(seed)))


TASKS = [
    evaluation.TaskSpec("fmnist28_n4000_mlp128x64_relu_10k",
                        _image("fashion_mnist", 28, (128, 64), train_size=4000), 10000,
                        dataset="fashion_mnist", architecture="mlp"),
    evaluation.TaskSpec("fmnist28_mlp32_tanh_10k", _image("fashion_mnist", 28, (32,), "tanh"), 10000,
                        dataset="fashion_mnist", architecture="mlp"),
    evaluation.TaskSpec("digits_mlp128x64_relu_10k", _image("digits", None, (128, 64), batch_size=64),
                        10000, dataset="digits", architecture="mlp"),
    evaluation.TaskSpec("fmnist28_mlp128_relu_1k", _image("fashion_mnist", 28, (128,)), 1000,
                        dataset="fashion_mnist", architecture="mlp"),
    evaluation.TaskSpec("austen_lm_tiny_1k", _austen_lm, 1000, dataset="austen",
                        architecture="transformer_lm"),
]


def _optimizer(name, tx):
  return evaluation.Optimizer(name=name, family=f"wd_selection:{name}", hyper=0.0,
                              fns=lambda _, num_steps: meta_training.transform_fns(tx),
                              lo_optimizer=None)


def optimizers():
  out = [_optimizer("adamw", optax.adamw(1e-3)),
         _optimizer("adamw_wd0.1", optax.adamw(1e-3, weight_decay=0.1))]
  return out + [_optimizer(f"mnemosyne_wd{wd:g}", mnemosyne_lopt.mnemosyne(weight_decay=wd, name="plain"))
                for wd in GRID]


def main(argv=None):
  return selection_main(__doc__, HERE, optimizers, summarize, {"grid": GRID}, argv)


def selection_main(doc, folder, make_optimizers, summarize_fn, extra, argv=None,
                   json_name="results.json"):
  """A selection script's command line: ``--seeds`` runs ``make_optimizers()`` on TASKS into
  ``folder``/``json_name`` (with ``extra``), ``--summary_only`` reads it back; then
  ``summarize_fn(results, seeds)`` writes the tables and the figure."""
  parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
  parser.add_argument("--seeds", type=int, default=2)
  parser.add_argument("--summary_only", action="store_true",
                      help=f"rewrite the summary from {json_name} without training")
  args = parser.parse_args(argv)
  path = os.path.join(folder, json_name)
  if args.summary_only:
    with open(path) as f:
      saved = json.load(f)
    return summarize_fn(saved["results"], saved["seeds"])
  return summarize_fn(run_grid(make_optimizers(), args.seeds, path, extra), args.seeds)


def run_grid(opts, seeds, json_path, extra):
  """Final train / validation / test losses per seed of every optimizer of ``opts`` on every task
  of TASKS (task -> optimizer -> lists), printed as they come and written to ``json_path`` with
  ``extra`` after each task."""
  results = {}
  for spec in TASKS:
    cache = {}
    for opt in opts:
      runs = [evaluation.run_one(opt, opt.hyper, spec, seed, spec.num_steps, cache)
              for seed in range(seeds)]
      results.setdefault(spec.name, {})[opt.name] = {
          k: [r[k] for r in runs] for k in ("final_train", "final_valid", "final_test", "seconds")}
      r = results[spec.name][opt.name]
      print(f"{spec.name:36s} {opt.name:18s} train {np.mean(r['final_train']):.4g}  valid "
            f"{np.mean(r['final_valid']):.4f}  test {np.mean(r['final_test']):.4f}  "
            f"({sum(r['seconds']):.0f} s)", flush=True)
    with open(json_path, "w") as f:
      json.dump(dict(extra, seeds=seeds, results=results), f, indent=1)
  return results


def mean_final(results):
  """mean(task, optimizer, key="final_valid"): the mean over seeds of a per-seed final figure of
  ``results``."""
  return lambda t, o, k="final_valid": float(np.mean(results[t][o][k]))


def loss_cells(mean, task, cols):
  """The table cells 'final validation / test loss' of the optimizers ``cols`` on ``task``."""
  return " | ".join(f"{mean(task, c, 'final_valid'):.4f} / {mean(task, c, 'final_test'):.4f}"
                    for c in cols)


def tuned_adamw_rates(mean, results, grid):
  """Per task, the rate of ``grid`` at which AdamW's mean final validation loss (optimizer
  ``adamw_lr<rate>``) is lowest: tuned AdamW."""
  return {t: min(grid, key=lambda a, t=t: mean(t, f"adamw_lr{a:g}")) for t in results}


def setting_rows(mean, results, tuned, names):
  """Per optimizer of ``names``: (name, tasks below AdamW at 1e-3, tasks within 2 % of tuned AdamW,
  geometric mean over tasks of its validation loss / tuned AdamW's), on mean validation losses."""
  rows = []
  for name in names:
    below = sum(mean(t, name) < mean(t, "adamw_lr0.001") for t in results)
    within = sum(mean(t, name) <= 1.02 * mean(t, f"adamw_lr{tuned[t]:g}") for t in results)
    gmean = float(np.exp(np.mean([np.log(mean(t, name) / mean(t, f"adamw_lr{tuned[t]:g}"))
                                  for t in results])))
    rows.append((name, below, within, gmean))
  return rows


def rule_order(rows, num_tasks):
  """``setting_rows`` ordered by the settings rule: those below AdamW at 1e-3 on every task (all,
  if none is), most tasks within 2 % of tuned AdamW first, ties by the lower geometric mean."""
  eligible = [r for r in rows if r[1] == num_tasks] or rows
  return sorted(eligible, key=lambda r: (-r[2], r[3]))


def rule_table(rows, num_tasks, order_label="Order by the rule (module docstring)"):
  """Markdown lines: the table of ``setting_rows`` and the order ``rule_order`` gives them."""
  n = num_tasks
  lines = [f"| setting | below AdamW 1e-3 (of {n}) | within 2 % of tuned AdamW (of {n}) | "
           "geometric mean / tuned AdamW |", "|---|---:|---:|---:|"]
  lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} |" for r in rows]
  return lines + ["", f"{order_label}: " + ", ".join(r[0] for r in rule_order(rows, n)) + "."]


def table_beside_tuned_adamw(mean, results, tuned, cols):
  """Markdown lines: per task, the 'validation / test' cells of ``cols``, then tuned AdamW's with
  its rate (``tuned`` from ``tuned_adamw_rates``)."""
  lines = ["| task | " + " | ".join(cols) + " | tuned AdamW (rate) |",
           "|---|" + "---:|" * (len(cols) + 1)]
  for t in results:
    lines.append(f"| {t} | {loss_cells(mean, t, cols)} | "
                 f"{loss_cells(mean, t, [f'adamw_lr{tuned[t]:g}'])} ({tuned[t]:g}) |")
  return lines


def write_summary(folder, lines, name="results.md"):
  """Writes ``lines`` as ``folder``/``name`` and prints them."""
  with open(os.path.join(folder, name), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


def summarize(results, seeds):
  """results.md and selection.png from ``results`` (task -> optimizer -> per-seed finals)."""
  mean = mean_final(results)
  names = [f"mnemosyne_wd{wd:g}" for wd in GRID]
  score = {n: float(np.exp(np.mean([np.log(mean(t, n, "final_valid") / mean(t, names[0], "final_valid"))
                                    for t in results]))) for n in names}
  wins = {n: sum(mean(t, n, "final_valid") < mean(t, "adamw", "final_valid") for t in results)
          for n in names}
  pick = GRID[min(range(len(GRID)), key=lambda i: (-wins[names[i]], score[names[i]]))]
  by_score = GRID[int(np.argmin([score[n] for n in names]))]
  cols = ["adamw", "adamw_wd0.1"] + names
  lines = ["Final validation / test loss, mean over %d seeds, learning rate 1e-3 constant." % seeds,
           "", "| task | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
  for t in results:
    lines.append(f"| {t} | {loss_cells(mean, t, cols)} |")
  lines += ["", "Geometric mean over the tasks of validation loss relative to weight decay 0: " +
            ", ".join(f"{n[len('mnemosyne_wd'):]}: {score[n]:.3f}" for n in names) + ".",
            "", "Tasks (of %d) with validation loss below AdamW's: " % len(results) +
            ", ".join(f"{n[len('mnemosyne_wd'):]}: {wins[n]}" for n in names) + ".",
            "", f"Pick (most tasks below AdamW, then the geometric mean): weight decay {pick:g}"
            f" (the geometric mean alone: {by_score:g})."]
  write_summary(HERE, lines)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 4))
  xs = [max(wd, 3e-3) for wd in GRID]
  for t in results:
    ax.plot(xs, [mean(t, n, "final_valid") / mean(t, "adamw", "final_valid") for n in names], "o-", label=t)
  ax.axhline(1.0, color="k", lw=0.8)
  ax.set_xscale("log"); ax.set_yscale("log")
  ax.set_xticks(xs); ax.set_xticklabels([f"{wd:g}" for wd in GRID])
  ax.set_xlabel("Mnemosyne weight decay"); ax.set_ylabel("final validation loss / AdamW's")
  ax.legend(fontsize=7); fig.tight_layout(); fig.savefig(os.path.join(HERE, "selection.png"), dpi=110)
  return 0


if __name__ == "__main__":
  sys.exit(main())

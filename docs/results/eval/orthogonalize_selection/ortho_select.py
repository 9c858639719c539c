"""Orthogonalised Mnemosyne against the shipped "plain" one on tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/orthogonalize_selection/ortho_select.py [--seeds 2]

Three optimizers at learning rate 1e-3 and weight decay 0.1: ``mnemosyne(name="plain")`` (the
"plain" theta), the same theta with ``orthogonalize=True`` (every matrix's step replaced by its
polar factor at the same RMS, ``mnemosyne_lopt.orthogonalize``; not meta-trained with it), and
``mnemosyne(name="orthogonal")`` (a theta meta-trained with that step,
``pretrained/orthogonal/RECIPE.md``), on the five selection tasks of
``../weight_decay_selection/wd_select.py`` (Fashion-MNIST, scikit-learn digits and Austen tasks
that share no data set or task with held_out), through mnemosyne-eval's harness
(``evaluation.run_one``: same batches and seeds for every optimizer).  ``optax.adamw``'s runs at
the rates of ``../learning_rate_selection/`` (1e-4 .. 1e-2, weight decay 1e-4) are read from that
folder's results.json (same harness, tasks and seeds).

The rule, fixed before the runs, on final *validation* loss (test losses are reported, not used):
a candidate qualifies to replace "plain" as the shipped default if it is below AdamW at 1e-3 on
every task, within 2 % of tuned AdamW (the best rate of the grid) on at least as many tasks as
"plain", and below "plain" on the majority of the tasks.  Writes results.json,
results.md and selection.png next to this file; ``--summary_only`` rewrites the last two from
results.json without training.
"""
import json
import os
import sys

import mnemosyne_lopt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weight_decay_selection"))
import wd_select  # pylint: disable=g-import-not-at-top,wrong-import-position

ADAMW_FROM = os.path.join(HERE, "..", "learning_rate_selection", "results.json")
CANDIDATES = ("mnemosyne", "mnemosyne_orthogonal", "orthogonal_pretrained")


def optimizers():
  return [wd_select._optimizer("mnemosyne", mnemosyne_lopt.mnemosyne(name="plain")),  # pylint: disable=protected-access
          wd_select._optimizer("mnemosyne_orthogonal", mnemosyne_lopt.mnemosyne(name="plain", orthogonalize=True)),  # pylint: disable=protected-access
          wd_select._optimizer("orthogonal_pretrained", mnemosyne_lopt.mnemosyne(name="orthogonal"))]  # pylint: disable=protected-access


def with_adamw(results):
  """``results`` with the AdamW runs of ../learning_rate_selection/results.json added per task."""
  with open(ADAMW_FROM) as f:
    saved = json.load(f)
  grid = saved["adamw_grid"]
  for t in results:
    for a in grid:
      results[t][f"adamw_lr{a:g}"] = saved["results"][t][f"adamw_lr{a:g}"]
  return results, grid


def with_shipped(results, name):
  """``results`` with this script's runs of the shipped default (``orthogonal_pretrained`` of
  results.json here) added per task as optimizer ``name``."""
  with open(os.path.join(HERE, "results.json")) as f:
    shipped = json.load(f)["results"]
  for t in results:
    results[t][name] = shipped[t]["orthogonal_pretrained"]
  return results


def summarize(results, seeds):
  """results.md and selection.png from ``results`` (task -> optimizer -> per-seed finals)."""
  results, grid = with_adamw(results)
  mean = wd_select.mean_final(results)
  tuned = wd_select.tuned_adamw_rates(mean, results, grid)
  rows = wd_select.setting_rows(mean, results, tuned, CANDIDATES)
  below, within = ({r[0]: r[k] for r in rows} for k in (1, 2))
  lower = {c: sum(mean(t, c) < mean(t, "mnemosyne") for t in results) for c in CANDIDATES[1:]}
  n = len(results)
  qualifies = {c: below[c] == n and within[c] >= within["mnemosyne"] and lower[c] > n / 2
               for c in CANDIDATES[1:]}
  cols = ["adamw_lr0.001"] + list(CANDIDATES)
  lines = ["Final validation / test loss, mean over %d seeds, constant learning rate 1e-3; AdamW at "
           "weight decay 1e-4, Mnemosyne at 0.1 (its default)." % seeds, ""]
  lines += wd_select.table_beside_tuned_adamw(mean, results, tuned, cols)
  lines += ["", f"Below AdamW at 1e-3 on validation loss (of {n}): "
            + ", ".join(f"{c} {below[c]}" for c in CANDIDATES) + ".",
            "", f"Within 2 % of tuned AdamW's validation loss or better (of {n}): "
            + ", ".join(f"{c} {within[c]}" for c in CANDIDATES) + ".",
            "", "Below \"plain\" (mnemosyne) on validation loss (of %d): " % n
            + ", ".join(f"{c} {lower[c]}" for c in CANDIDATES[1:]) + ".",
            "", "Rule (module docstring): " + "; ".join(
                f"{c} {'qualifies' if qualifies[c] else 'does not qualify'}" for c in CANDIDATES[1:])
            + " to replace \"plain\" as the shipped default."]
  wd_select.write_summary(HERE, lines)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 3.5))
  names = list(results)
  for i, c in enumerate(["adamw_lr0.001"] + list(CANDIDATES)):
    ax.bar([k + 0.2 * (i - 1.5) for k in range(n)],
           [mean(t, c) / mean(t, f"adamw_lr{tuned[t]:g}") for t in names], width=0.2, label=c)
  ax.axhline(1.0, color="k", lw=0.8)
  ax.axhline(1.02, color="k", lw=0.6, ls=":")
  ax.set_xticks(range(n)); ax.set_xticklabels(names, rotation=20, ha="right", fontsize=7)
  ax.set_ylabel("final validation loss / tuned AdamW's")
  ax.legend(fontsize=7); fig.tight_layout(); fig.savefig(os.path.join(HERE, "selection.png"), dpi=110)
  return 0


def main(argv=None):
  return wd_select.selection_main(__doc__, HERE, optimizers, summarize, {}, argv)


if __name__ == "__main__":
  sys.exit(main())

"""The default learning rate of ``mnemosyne_lopt.mnemosyne()`` (the pretrained "orthogonal"): selection
on tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/learning_rate_selection_orthogonal/lr_select_orthogonal.py [--seeds 2]

The shipped default (pretrained "orthogonal", weight decay 0.1, per-coordinate bound 2, constant
learning rate) at the rates of RATES, on the five selection tasks of
``../weight_decay_selection/wd_select.py`` (Fashion-MNIST, scikit-learn digits and Austen tasks that
share no data set or task with held_out), 2 seeds, through mnemosyne-eval's harness
(``evaluation.run_one``: same batches and seeds for every optimizer).  Its runs at 1e-3 are
``orthogonal_pretrained`` of ``../orthogonalize_selection/results.json``; ``optax.adamw``'s at 1e-4 ..
1e-2 (weight decay 1e-4), which hold every rate of RATES, those of
``../learning_rate_selection/results.json`` (same harness, tasks and seeds).

The rule, fixed before the runs (the rule of ``../learning_rate_selection/lr_select.py``, which chose
1e-3 for the "plain" theta), on final *validation* loss (test losses are reported, not used): among
the rates at which the default is below AdamW at the same rate on every task, the one within 2 % of
tuned AdamW (the best rate of AdamW's grid) on the most tasks, ties broken by the lower rate; it is
kept only if, at that rate, the default blows up nowhere that AdamW at the same rate does not in
``mnemosyne-stability``'s suite and its architectures (``../../stability/learning_rates/`` holds 3e-3
and 1e-2; other rates are run then), else the next rate in that order.  Writes results.json and
results.md next to this file; ``--summary_only`` rewrites results.md from results.json without
training.
"""
import os
import sys

import mnemosyne_lopt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weight_decay_selection"))
sys.path.insert(0, os.path.join(HERE, "..", "orthogonalize_selection"))
import wd_select  # pylint: disable=g-import-not-at-top,wrong-import-position
import ortho_select  # pylint: disable=g-import-not-at-top,wrong-import-position

RATES = (1e-3, 2e-3, 3e-3, 1e-2)
SHIPPED_RATE = 1e-3


def name(lr):
  return f"mnemosyne_lr{lr:g}"


def optimizers():
  return [wd_select._optimizer(name(lr), mnemosyne_lopt.mnemosyne(learning_rate=lr))  # pylint: disable=protected-access
          for lr in RATES if lr != SHIPPED_RATE]


def rate_rows(mean, results, tuned, rates=RATES, name_of=name):
  """Per rate of ``rates``: (rate, tasks below AdamW at that rate, tasks within 2 % of tuned AdamW,
  geometric mean of validation loss / tuned AdamW's), on mean validation losses; ``name_of(lr)``
  is the optimizer's name in ``results`` at that rate."""
  rows = []
  names = [name_of(lr) for lr in rates]
  for lr, row in zip(rates, wd_select.setting_rows(mean, results, tuned, names)):
    below = sum(mean(t, name_of(lr)) < mean(t, f"adamw_lr{lr:g}") for t in results)
    rows.append((lr, below, row[2], row[3]))
  return rows


def rule_order(rows, num_tasks):
  """``rate_rows`` in the rule's order: rates below AdamW at the same rate on every task (all, if
  none is), most tasks within 2 % of tuned AdamW first, ties by the lower rate."""
  eligible = [r for r in rows if r[1] == num_tasks] or rows
  return sorted(eligible, key=lambda r: (-r[2], r[0]))


def rate_summary(results, seeds, folder, what, rates=RATES, name_of=name):
  """Writes ``folder``/results.md: per task the validation / test losses of the optimizer (``what``
  names it) at each of ``rates`` beside AdamW's at the same rate and tuned AdamW's (``results``
  with AdamW's runs added), the table of ``rate_rows`` and the rule's order."""
  results, grid = ortho_select.with_adamw(results)
  mean = wd_select.mean_final(results)
  tuned = wd_select.tuned_adamw_rates(mean, results, grid)
  rows = rate_rows(mean, results, tuned, rates, name_of)
  n = len(results)
  lines = [f"Final validation / test loss, mean over {seeds} seeds, constant learning rates: {what} "
           "per rate, AdamW (weight decay 1e-4) at the same rates.", ""]
  cols = [c for lr in rates for c in (f"adamw_lr{lr:g}", name_of(lr))]
  lines += wd_select.table_beside_tuned_adamw(mean, results, tuned, cols)
  lines += ["", f"| rate | below AdamW at the same rate (of {n}) | within 2 % of tuned AdamW (of {n}) | "
            "geometric mean / tuned AdamW |", "|---:|---:|---:|---:|"]
  lines += [f"| {r[0]:g} | {r[1]} | {r[2]} | {r[3]:.4f} |" for r in rows]
  lines += ["", "Order by the rule (module docstring), before the stability check: "
            + ", ".join(f"{r[0]:g}" for r in rule_order(rows, n)) + "."]
  wd_select.write_summary(folder, lines, "results.md")
  return 0


def summarize(results, seeds):
  return rate_summary(ortho_select.with_shipped(results, name(SHIPPED_RATE)), seeds, HERE,
                      "the shipped default (pretrained \"orthogonal\", weight decay 0.1, bound 2)")


def main(argv=None):
  return wd_select.selection_main(__doc__, HERE, optimizers, summarize, {"rates": RATES}, argv)


if __name__ == "__main__":
  sys.exit(main())

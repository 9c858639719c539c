"""The learning rate of the Celo2-style rule at equal budget, chosen by the rule that chose
``mnemosyne()``'s default, on tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/learning_rate_selection_celo2_style/lr_select_celo2.py [--seeds 2] [--extension]

The Celo2-style rule (``mnemosyne_lopt.celo2_style``) with the theta it has after the same 1,000
outer steps of ``gin_configs/meta_train/v2_small*.gin`` as the shipped default's theta
(``../../meta_training/v2_small_stage2/celo2_style``: best selection score, no weight decay, no
per-coordinate bound, as meta-trained and as held_out's equal-budget comparisons run it) at the
constant learning rates of RATES, on the five selection tasks of
``../weight_decay_selection/wd_select.py`` (Fashion-MNIST, scikit-learn digits and Austen tasks that
share no data set or task with held_out), 2 seeds, through mnemosyne-eval's harness
(``evaluation.run_one``: the same batches and seeds as every optimizer there).  ``optax.adamw``'s
runs at 1e-4 .. 1e-2 (weight decay 1e-4) are those of ``../learning_rate_selection/results.json``.

The rule, fixed before the runs: that of ``../learning_rate_selection_orthogonal/
lr_select_orthogonal.py``, which chose 3e-3 for ``mnemosyne()``.  On final *validation* loss (test
losses are reported, not used): among the rates at which the rule is below AdamW at the same rate
on every task (all rates, if none is), the one within 2 % of tuned AdamW (the best rate of AdamW's
grid) on the most tasks, ties broken by the lower rate; it is kept only if, at that rate, the rule
blows up nowhere that AdamW at the same rate does not in ``mnemosyne-stability``'s suite and its
architectures (``mnemosyne-stability --celo2_run`` this theta), else the next rate in that order.
Its held_out comparisons with ``mnemosyne()`` then run it at the rate kept.  Writes results.json
and results.md next to this file; ``--summary_only`` rewrites results.md from results.json
without training.

Extension, fixed after the runs of RATES and before its own: the rule picked 1e-3, the lowest of
RATES, so the rates of AdamW's grid below it (EXTENSION: 1e-4, 3e-4) are run as well, as
``mnemosyne-eval`` extends a tuned learning-rate grid whose pick is at its end, and the rule then
chooses among all six rates (``--extension`` runs them into results_extension.json; the summary
reads both files).
"""
import json
import os
import sys

from mnemosyne_lopt import evaluation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weight_decay_selection"))
sys.path.insert(0, os.path.join(HERE, "..", "learning_rate_selection_orthogonal"))
import wd_select  # pylint: disable=g-import-not-at-top,wrong-import-position
import lr_select_orthogonal  # pylint: disable=g-import-not-at-top,wrong-import-position

RATES = lr_select_orthogonal.RATES
EXTENSION = (1e-4, 3e-4)
CELO2_RUN = os.path.normpath(os.path.join(HERE, "..", "..", "meta_training", "v2_small_stage2",
                                          "celo2_style"))


def name(lr):
  return f"celo2_style_lr{lr:g}"


def all_rates(results):
  """The rates of RATES and EXTENSION that ``results`` holds, in increasing order."""
  some_task = next(iter(results.values()))
  return sorted(lr for lr in RATES + EXTENSION if name(lr) in some_task)


def optimizers(rates=RATES):
  out = []
  for lr in rates:
    opt = evaluation.make_optimizer(f"celo2_style:{CELO2_RUN}@{lr:g}")
    opt.name = name(lr)
    out.append(opt)
  return out


def summarize(results, seeds):
  extension = os.path.join(HERE, "results_extension.json")
  if os.path.exists(extension):
    with open(extension) as f:
      for t, by_opt in json.load(f)["results"].items():
        results[t].update(by_opt)
  return lr_select_orthogonal.rate_summary(
      results, seeds, HERE, "the Celo2-style rule at equal budget (v2_small stage 2, no weight "
      "decay, no bound)", all_rates(results), name)


def main(argv=None):
  argv = list(sys.argv[1:] if argv is None else argv)
  extension = "--extension" in argv
  if extension:
    argv.remove("--extension")
  rates = EXTENSION if extension else RATES
  theta = os.path.relpath(CELO2_RUN, os.path.join(HERE, "..", "..", "..", ".."))
  return wd_select.selection_main(__doc__, HERE, lambda: optimizers(rates), summarize,
                                  {"rates": rates, "theta": theta}, argv,
                                  json_name="results_extension.json" if extension else "results.json")


if __name__ == "__main__":
  sys.exit(main())

"""Steps relative to each matrix's initial scale (``init_scale_reference=0.02``) against the shipped
default, on tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/init_relative_selection/init_relative_select.py [--seeds 2]

``mnemosyne(init_scale_reference=0.02)``: the shipped default (pretrained "orthogonal", learning
rate 1e-3, weight decay 0.1, per-coordinate bound 2) with every matrix-like tensor's step
multiplied by f = max(1, rms(p_0) / 0.02), p_0 the tensor given to ``init``; on the five selection
tasks of ``../weight_decay_selection/wd_select.py`` (Fashion-MNIST, scikit-learn digits and Austen
tasks that share no data set or task with held_out), 2 seeds, through mnemosyne-eval's harness
(``evaluation.run_one``: same batches and seeds for every optimizer).  The shipped default's runs
are ``orthogonal_pretrained`` of ``../orthogonalize_selection/results.json``, AdamW's (1e-4 ..
1e-2) those of ``../learning_rate_selection/results.json`` (same harness, tasks and seeds).

The rule, fixed before the runs, on final *validation* loss (test losses are reported, not used),
the rule of ``../orthogonalize_selection/settings_select.py``: among the two settings below AdamW
at 1e-3 on every task, the one within 2 % of tuned AdamW (the best rate of the grid) on the most
tasks, ties broken by the lower geometric mean of validation loss / tuned AdamW's; it is kept only
if ``mnemosyne-stability`` finds no blow-up with it (``../../stability/init_relative/``: 0 of 48
runs, 0 of 48 told the horizon).  None of the five tasks fine-tunes pretrained weights, which the
rule therefore does not weigh.  Writes results.json and results.md next to this file;
``--summary_only`` rewrites results.md from results.json without training.
"""
import os
import sys

import mnemosyne_lopt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weight_decay_selection"))
sys.path.insert(0, os.path.join(HERE, "..", "orthogonalize_selection"))
import wd_select  # pylint: disable=g-import-not-at-top,wrong-import-position
import ortho_select  # pylint: disable=g-import-not-at-top,wrong-import-position

SHIPPED, CANDIDATE = "shipped", "init_relative_0.02"


def optimizers():
  return [wd_select._optimizer(CANDIDATE, mnemosyne_lopt.mnemosyne(init_scale_reference=0.02))]  # pylint: disable=protected-access


def summarize(results, seeds):
  results, grid = ortho_select.with_adamw(ortho_select.with_shipped(results, SHIPPED))
  mean = wd_select.mean_final(results)
  tuned = wd_select.tuned_adamw_rates(mean, results, grid)
  rows = wd_select.setting_rows(mean, results, tuned, (SHIPPED, CANDIDATE))
  lines = [f"Final validation / test loss, mean over {seeds} seeds, learning rate 1e-3: the shipped "
           "default and the same with init_scale_reference=0.02.", ""]
  lines += wd_select.table_beside_tuned_adamw(mean, results, tuned, [SHIPPED, CANDIDATE])
  lines += [""] + wd_select.rule_table(rows, len(results))
  wd_select.write_summary(HERE, lines, "results.md")
  return 0


def main(argv=None):
  return wd_select.selection_main(__doc__, HERE, optimizers, summarize, {}, argv)


if __name__ == "__main__":
  sys.exit(main())

"""The weight decay and per-coordinate bound of the pretrained "orthogonal" Mnemosyne: selection on
tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/orthogonalize_selection/settings_select.py [--seeds 2]

The "orthogonal" theta at learning rate 1e-3 with decoupled weight decay in {0.1, 0} and the
per-coordinate bound ``max_coordinate_ratio`` in {2, None} (as shipped: 0.1 and 2, the settings
chosen for the "default" theta), on the five selection tasks of ``ortho_select.py`` (same harness,
tasks and seeds; AdamW's runs from ``../learning_rate_selection/results.json``).  The shipped
setting's runs are those of ``ortho_select.py`` (``orthogonal_pretrained`` in its results.json).

The rule, fixed before the runs, on final *validation* loss: among the settings below AdamW at 1e-3
on every task, the one within 2 % of tuned AdamW on the most tasks, ties broken by the lower
geometric mean of validation loss / tuned AdamW's; it is kept only if ``mnemosyne-stability``
finds no blow-up with it (else the next).  Writes settings.json and settings.md next to this file.
"""
import os
import sys

import mnemosyne_lopt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weight_decay_selection"))
import wd_select  # pylint: disable=g-import-not-at-top,wrong-import-position
import ortho_select  # pylint: disable=g-import-not-at-top,wrong-import-position

SETTINGS = {"wd0.1_bound2": (0.1, 2.0), "wd0.1_nobound": (0.1, None), "wd0_bound2": (0.0, 2.0),
            "wd0_nobound": (0.0, None)}
SHIPPED = "wd0.1_bound2"


def optimizers():
  lopt, theta = mnemosyne_lopt.load_pretrained("orthogonal")
  out = []
  for name, (wd, bound) in SETTINGS.items():
    if name == SHIPPED:
      continue
    learned = mnemosyne_lopt.MnemosyneLOpt(**{**lopt.config, "max_coordinate_ratio": bound})
    out.append(wd_select._optimizer(name, mnemosyne_lopt.mnemosyne(  # pylint: disable=protected-access
        weight_decay=wd, theta=theta, learned_opt=learned)))
  return out


def summarize(results, seeds):
  results, grid = ortho_select.with_adamw(ortho_select.with_shipped(results, SHIPPED))
  mean = wd_select.mean_final(results)
  tuned = wd_select.tuned_adamw_rates(mean, results, grid)
  rows = wd_select.setting_rows(mean, results, tuned, SETTINGS)
  lines = ["Final validation / test loss of the \"orthogonal\" theta, mean over %d seeds, learning "
           "rate 1e-3, per setting (weight decay, per-coordinate bound)." % seeds, ""]
  lines += wd_select.table_beside_tuned_adamw(mean, results, tuned, list(SETTINGS))
  lines += [""] + wd_select.rule_table(
      rows, len(results), "Order by the rule (module docstring), before the stability check")
  wd_select.write_summary(HERE, lines, "settings.md")
  return 0


def main(argv=None):
  return wd_select.selection_main(__doc__, HERE, optimizers, summarize, {}, argv,
                                  json_name="settings.json")


if __name__ == "__main__":
  sys.exit(main())

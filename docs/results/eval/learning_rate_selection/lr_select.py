"""Selection of the default learning rate of ``mnemosyne_lopt.mnemosyne()`` on tasks outside held_out.

    PYTHONPATH=. .venv/bin/python docs/results/eval/learning_rate_selection/lr_select.py [--seeds 2]

Mnemosyne v2 (the shipped "plain" theta with its default decoupled weight decay 0.1, constant
learning rate) at learning rates LR_GRID, against ``optax.adamw`` (its default weight decay 1e-4)
at every rate of ADAMW_GRID, which holds LR_GRID, on the five selection tasks of
``../weight_decay_selection/wd_select.py`` (Fashion-MNIST, scikit-learn digits and Austen tasks
that share no data set or task with held_out), through mnemosyne-eval's harness
(``evaluation.run_one``: same batches and seeds for every optimizer).

For each candidate rate lr, on final *validation* loss (test losses are reported, not used):

  * below AdamW at the same rate: tasks where Mnemosyne(lr) < AdamW(lr);
  * within 2 % of tuned AdamW: tasks where Mnemosyne(lr) <= 1.02 min_a AdamW(a) over ADAMW_GRID.

These are the v2 issue's two held-out target measures. The pick is the rate with the most tasks
within 2 % of tuned AdamW among those below AdamW at the same rate on every task, ties broken by
the lower rate (nearer the rate the network was meta-trained at, 1e-3). Writes results.json,
results.md, selection.png next to this file; ``--summary_only`` rewrites the last two from
results.json without training.
"""
import os
import sys

import optax

import mnemosyne_lopt

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "weight_decay_selection"))
import wd_select  # pylint: disable=g-import-not-at-top,wrong-import-position

LR_GRID = (1e-3, 2e-3, 3e-3)
ADAMW_GRID = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2)


def optimizers():
  return ([wd_select._optimizer(f"adamw_lr{lr:g}", optax.adamw(lr)) for lr in ADAMW_GRID]  # pylint: disable=protected-access
          + [wd_select._optimizer(f"mnemosyne_lr{lr:g}", mnemosyne_lopt.mnemosyne(learning_rate=lr, name="plain"))  # pylint: disable=protected-access
             for lr in LR_GRID])


def main(argv=None):
  return wd_select.selection_main(__doc__, HERE, optimizers, summarize,
                                  {"lr_grid": LR_GRID, "adamw_grid": ADAMW_GRID}, argv)


def selection_counts(results):
  """Per candidate rate: (tasks below AdamW at that rate, tasks within 2 % of tuned AdamW), on
  mean final validation loss; and the tuned AdamW rate per task."""
  mean = wd_select.mean_final(results)
  tuned = wd_select.tuned_adamw_rates(mean, results, ADAMW_GRID)
  below, within = {}, {}
  for lr in LR_GRID:
    m = f"mnemosyne_lr{lr:g}"
    below[lr] = sum(mean(t, m) < mean(t, f"adamw_lr{lr:g}") for t in results)
    within[lr] = sum(mean(t, m) <= 1.02 * mean(t, f"adamw_lr{tuned[t]:g}") for t in results)
  return below, within, tuned


def pick_rate(below, within, num_tasks):
  eligible = [lr for lr in LR_GRID if below[lr] == num_tasks] or list(LR_GRID)
  return min(eligible, key=lambda lr: (-within[lr], lr))


def summarize(results, seeds):
  """results.md and selection.png from ``results`` (task -> optimizer -> per-seed finals)."""
  mean = wd_select.mean_final(results)
  below, within, tuned = selection_counts(results)
  pick = pick_rate(below, within, len(results))
  cols = [f"adamw_lr{a:g}" for a in ADAMW_GRID] + [f"mnemosyne_lr{lr:g}" for lr in LR_GRID]
  lines = ["Final validation / test loss, mean over %d seeds, constant learning rates; AdamW at "
           "weight decay 1e-4, Mnemosyne at 0.1 (its default)." % seeds,
           "", "| task | " + " | ".join(cols) + " | tuned AdamW's rate |", "|---|" + "---:|" * (len(cols) + 1)]
  for t in results:
    lines.append(f"| {t} | {wd_select.loss_cells(mean, t, cols)} | {tuned[t]:g} |")
  lines += ["", "Tasks (of %d) where Mnemosyne's validation loss is below AdamW's at the same rate: " % len(results)
            + ", ".join(f"{lr:g}: {below[lr]}" for lr in LR_GRID) + ".",
            "", "Tasks within 2 %% of tuned AdamW's validation loss or better (of %d): " % len(results)
            + ", ".join(f"{lr:g}: {within[lr]}" for lr in LR_GRID) + ".",
            "", f"Pick (most tasks within 2 % of tuned AdamW among the rates below AdamW at the same "
            f"rate on every task, then the lower rate): learning rate {pick:g}."]
  wd_select.write_summary(HERE, lines)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 4))
  for t in results:
    best = mean(t, f"adamw_lr{tuned[t]:g}", "final_valid")
    line, = ax.plot(LR_GRID, [mean(t, f"mnemosyne_lr{lr:g}", "final_valid") / best for lr in LR_GRID],
                    "o-", label=t)
    ax.plot(LR_GRID, [mean(t, f"adamw_lr{lr:g}", "final_valid") / best for lr in LR_GRID], "x--",
            color=line.get_color(), alpha=0.6)
  ax.axhline(1.0, color="k", lw=0.8)
  ax.axhline(1.02, color="k", lw=0.6, ls=":")
  ax.set_xscale("log"); ax.set_yscale("log")
  ax.set_xticks(LR_GRID); ax.set_xticklabels([f"{lr:g}" for lr in LR_GRID])
  ax.set_xlabel("learning rate (o Mnemosyne, x AdamW)")
  ax.set_ylabel("final validation loss / tuned AdamW's")
  ax.legend(fontsize=7); fig.tight_layout(); fig.savefig(os.path.join(HERE, "selection.png"), dpi=110)
  return 0


if __name__ == "__main__":
  sys.exit(main())

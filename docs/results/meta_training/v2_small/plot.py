"""Meta-training curves of the learned optimizers on meta_train/v2_small.gin (same families,
estimator, outer optimizer, selection tasks and outer steps), stages 1 to K joined: the selection
score (validation loss after 1,000 steps / Adam(1e-3)'s, mean over v2.gin's three selection tasks;
log scale) and the meta-loss (mean over 25 outer steps), against outer step (stage k's steps
numbered on from 500 (k - 1)).  Stage 1's histories are in this folder's <name>/, stage k's in
../v2_small_stage<k>/<name>/ (``run.sh CORE --stage k NAME`` copies them there).  Draws every
optimizer that reached stage K (``--names`` picks some), plus plain Mnemosyne v2 as far as it got
for reference, and writes the stage-K folder's ``curves.png`` (or ``--out``):

    .venv/bin/python docs/results/meta_training/v2_small/plot.py [--stage K] [--names orthogonal]
"""
import argparse
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position
import numpy as np  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = {"mnemosyne": "Mnemosyne v2", "celo2_style": "Celo2-style", "lstm": "LSTM",
          "lstm_features": "LSTM + features", "adafac": "AdafacMLPLOpt", "rnn": "RNNMLPLOpt",
          "orthogonal": "Mnemosyne v2, orthogonalised step",
          "orthogonal_gain": "orthogonalised, tensor scale up to 10",
          "orthogonal_gain_long": "orthogonalised, scale up to 10, bound 2, runs to 6,000"}
STEPS_PER_STAGE = 500
WINDOW = 25


def stage_folder(stage):
  return HERE if stage == 1 else os.path.join(HERE, "..", f"v2_small_stage{stage}")


def _history(stage, name):
  """(selection points, meta-loss steps, meta-losses) of one stage, steps numbered on."""
  path = os.path.join(stage_folder(stage), name, "history.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    history = json.load(f)
  offset = STEPS_PER_STAGE * (stage - 1)
  sel = [(e["step"] + offset, e["eval_ratio"]) for e in history if "eval_ratio" in e]
  steps = [e["step"] + offset for e in history if "meta_loss" in e]
  loss = [e["meta_loss"] for e in history if "meta_loss" in e]
  return sel, steps, loss


def _joined(name, last_stage):
  """Stages 1..last_stage of one optimizer joined, and the last stage it has."""
  sel, steps, loss, reached = [], [], [], 0
  for stage in range(1, last_stage + 1):
    part = _history(stage, name)
    if part is None:
      break
    sel, steps, loss, reached = sel + part[0], steps + part[1], loss + part[2], stage
  return sel, steps, np.array(loss, dtype=float), reached


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--stage", type=int, default=1, help="last stage drawn (default 1)")
  parser.add_argument("--names", default=None,
                      help="comma-separated (default: every optimizer that reached the stage)")
  parser.add_argument("--out", default=None, help="default: the stage folder's curves.png")
  args = parser.parse_args(argv)
  names = (args.names.split(",") if args.names else
           [n for n in LABELS if _history(args.stage, n) is not None])
  reference = [] if "mnemosyne" in names or args.stage == 1 else ["mnemosyne"]
  fig, (ax_sel, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
  for name in reference + names:
    sel, steps, loss, reached = _joined(name, args.stage)
    if not sel:
      continue
    reach = " (stage 1 only)" if reached == 1 else f" (stages 1-{reached})"
    label = LABELS[name] + (reach if name in reference else "")
    line, = ax_sel.plot(*zip(*sel), "o-", ms=3, label=label)
    if len(loss) >= WINDOW:
      smooth = np.convolve(loss, np.ones(WINDOW) / WINDOW, mode="valid")
      ax_loss.plot(steps[WINDOW - 1:], smooth, color=line.get_color(), label=label)
  for ax in (ax_sel, ax_loss):
    for stage in range(1, args.stage):
      ax.axvline(STEPS_PER_STAGE * stage + 0.5, color="gray", lw=0.6, ls=":")
    ax.set_xlabel("outer step" if args.stage == 1 else
                  f"outer step (a new stage every {STEPS_PER_STAGE})")
  ax_sel.axhline(1.0, color="gray", lw=0.8, ls="--")
  ax_sel.set_yscale("log")
  ax_sel.set_ylabel("selection loss / Adam(1e-3)'s")
  ax_sel.set_title("selection score (lower is better)", fontsize=9)
  ax_loss.set_ylabel(f"meta-loss, mean of {WINDOW} outer steps")
  ax_loss.set_title("meta-training loss", fontsize=9)
  ax_sel.legend(fontsize=8)
  fig.suptitle(f"meta_train/v2_small.gin, {args.stage} stage{'s' * (args.stage > 1)} of "
               f"{STEPS_PER_STAGE} outer steps", fontsize=10)
  fig.tight_layout()
  out = args.out or os.path.join(stage_folder(args.stage), "curves.png")
  fig.savefig(out, dpi=100)
  plt.close(fig)
  print("wrote", out)


if __name__ == "__main__":
  main()

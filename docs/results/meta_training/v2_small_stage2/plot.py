"""Selection score and meta-loss over both stages of meta_train/v2_small.gin (stage 1:
../v2_small/<name>/history.json, outer steps 1-500; stage 2: <name>/history.json here, plotted as
steps 501-1,000), for every optimizer with a stage 2 here, and the stage-1 curve of plain
Mnemosyne v2 for reference.  Writes ``curves.png`` (or ``--out``; ``--names`` picks optimizers):

    .venv/bin/python docs/results/meta_training/v2_small_stage2/plot.py [--names orthogonal] [--out F]
"""
import argparse
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position
import numpy as np  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
STAGE1 = os.path.join(HERE, "..", "v2_small")
LABELS = {"mnemosyne": "Mnemosyne v2", "orthogonal": "Mnemosyne v2, orthogonalised step",
          "celo2_style": "Celo2-style", "lstm": "LSTM", "lstm_features": "LSTM + features",
          "adafac": "AdafacMLPLOpt", "rnn": "RNNMLPLOpt"}
WINDOW = 25


def _history(folder, name, offset):
  path = os.path.join(folder, name, "history.json")
  if not os.path.exists(path):
    return [], [], []
  with open(path) as f:
    history = json.load(f)
  sel = [(e["step"] + offset, e["eval_ratio"]) for e in history if "eval_ratio" in e]
  steps = [e["step"] + offset for e in history if "meta_loss" in e]
  loss = [e["meta_loss"] for e in history if "meta_loss" in e]
  return sel, steps, loss


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--names", default=None, help="comma-separated (default: every stage 2 here)")
  parser.add_argument("--out", default=os.path.join(HERE, "curves.png"))
  args = parser.parse_args(argv)
  names = (args.names.split(",") if args.names else
           sorted(n for n in LABELS if os.path.exists(os.path.join(HERE, n, "history.json"))))
  fig, (ax_sel, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
  reference = [] if "mnemosyne" in names else ["mnemosyne"]
  for name in reference + names:
    sel, steps, loss = _history(STAGE1, name, 0)
    sel2, steps2, loss2 = _history(HERE, name, 500)
    sel, steps, loss = sel + sel2, steps + steps2, np.array(loss + loss2, dtype=float)
    label = LABELS[name] + (" (stage 1 only)" if name in reference else "")
    line, = ax_sel.plot(*zip(*sel), "o-", ms=3, label=label)
    if len(loss) >= WINDOW:
      smooth = np.convolve(loss, np.ones(WINDOW) / WINDOW, mode="valid")
      ax_loss.plot(steps[WINDOW - 1:], smooth, color=line.get_color(), label=label)
  for ax in (ax_sel, ax_loss):
    ax.axvline(500.5, color="gray", lw=0.6, ls=":")
    ax.set_xlabel("outer step (stage 2 from 501)")
  ax_sel.axhline(1.0, color="gray", lw=0.8, ls="--")
  ax_sel.set_yscale("log")
  ax_sel.set_ylabel("selection loss / Adam(1e-3)'s")
  ax_sel.set_title("selection score (lower is better)", fontsize=9)
  ax_loss.set_ylabel(f"meta-loss, mean of {WINDOW} outer steps")
  ax_loss.set_title("meta-training loss", fontsize=9)
  ax_sel.legend(fontsize=8)
  fig.suptitle("meta_train/v2_small.gin, two stages of 500 outer steps", fontsize=10)
  fig.tight_layout()
  fig.savefig(args.out, dpi=110)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()

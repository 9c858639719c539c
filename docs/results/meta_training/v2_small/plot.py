"""Meta-training curves of every learned optimizer on meta_train/v2_small.gin (same families,
estimator, outer optimizer, selection tasks and outer steps): the selection score (validation loss
after 1,000 steps / Adam(1e-3)'s, mean over v2.gin's three selection tasks; log scale) and the
meta-loss (mean over 25 outer steps), against outer step.  Reads each run's history.json from this
folder (copied from runs/v2_small/<name>/) and writes ``curves.png``:

    .venv/bin/python docs/results/meta_training/v2_small/plot.py
"""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position
import numpy as np  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = (("mnemosyne", "Mnemosyne v2"), ("celo2_style", "Celo2-style"), ("lstm", "LSTM"),
         ("lstm_features", "LSTM + features"), ("adafac", "AdafacMLPLOpt"),
         ("rnn", "RNNMLPLOpt"), ("orthogonal", "Mnemosyne v2, orthogonalised step"))
WINDOW = 25


def main():
  fig, (ax_sel, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
  for name, label in NAMES:
    path = os.path.join(HERE, name, "history.json")
    if not os.path.exists(path):
      continue
    with open(path) as f:
      history = json.load(f)
    sel = [(e["step"], e["eval_ratio"]) for e in history if "eval_ratio" in e]
    if sel:
      ax_sel.plot(*zip(*sel), "o-", ms=3, label=label)
    steps = np.array([e["step"] for e in history if "meta_loss" in e])
    loss = np.array([e["meta_loss"] for e in history if "meta_loss" in e], dtype=float)
    if len(loss) >= WINDOW:
      smooth = np.convolve(loss, np.ones(WINDOW) / WINDOW, mode="valid")
      ax_loss.plot(steps[WINDOW - 1:], smooth, label=label)
  ax_sel.axhline(1.0, color="gray", lw=0.8, ls="--")
  ax_sel.set_yscale("log")
  ax_sel.set_xlabel("outer step")
  ax_sel.set_ylabel("selection loss / Adam(1e-3)'s")
  ax_sel.set_title("selection score (lower is better)", fontsize=9)
  ax_loss.set_xlabel("outer step")
  ax_loss.set_ylabel(f"meta-loss, mean of {WINDOW} outer steps")
  ax_loss.set_title("meta-training loss", fontsize=9)
  ax_sel.legend(fontsize=8)
  fig.suptitle("meta_train/v2_small.gin: every learned optimizer, 500 outer steps", fontsize=10)
  fig.tight_layout()
  out = os.path.join(HERE, "curves.png")
  fig.savefig(out, dpi=100)
  plt.close(fig)
  print("wrote", out)


if __name__ == "__main__":
  main()

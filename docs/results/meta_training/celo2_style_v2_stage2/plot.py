"""Selection score (validation loss after 1,000 steps / Adam(1e-3)'s, mean over the three selection
tasks of meta_train/v2.gin) against outer step: the Celo2-style rule over stages 1 and 2 (stage 2's
steps counted after stage 1's 211) beside Mnemosyne v2's run that made the pretrained default.

    .venv/bin/python docs/results/meta_training/celo2_style_v2_stage2/plot.py
"""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
STAGE1_STEPS = 211


def selection(path, offset=0):
  return [(e["step"] + offset, e["eval_ratio"]) for e in json.load(open(path)) if "eval_ratio" in e]


celo = (selection(os.path.join(HERE, "..", "celo2_style_v2_stage1", "history.json"))
        + selection(os.path.join(HERE, "history.json"), STAGE1_STEPS))
mnem = [(e["step"], e["ratio_to_adam"]) for e in json.load(open(os.path.join(
    ROOT, "mnemosyne_lopt", "pretrained", "default", "selection.json")))]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(*zip(*mnem), "o-", label="Mnemosyne v2 (meta_train/v2.gin)")
ax.plot(*zip(*celo), "s-", label="Celo2-style, stages 1 + 2 (meta_train/v2_celo2_style.gin)")
ax.axvline(STAGE1_STEPS, color="gray", lw=0.6, ls=":")
ax.axhline(1.0, color="gray", lw=0.8, ls="--")
ax.set_yscale("log")
ax.set_xlabel("outer step")
ax.set_ylabel("selection loss / Adam(1e-3)'s")
ax.legend(fontsize=8)
ax.set_title("Same recipe, same outer steps: held-out selection score", fontsize=9)
fig.tight_layout()
fig.savefig(os.path.join(HERE, "selection_vs_mnemosyne.png"), dpi=100)
print("wrote", os.path.join(HERE, "selection_vs_mnemosyne.png"))

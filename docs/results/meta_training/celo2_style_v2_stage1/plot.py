"""Selection score (validation loss after 1,000 steps / Adam(1e-3)'s, mean over the three selection
tasks of meta_train/v2.gin) against outer step: the Celo2-style rule (this stage's history.json)
beside Mnemosyne v2's run that made the pretrained default (its selection.json).

    .venv/bin/python docs/results/meta_training/celo2_style_v2_stage1/plot.py
"""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
celo = [(e["step"], e["eval_ratio"]) for e in json.load(open(os.path.join(HERE, "history.json")))
        if "eval_ratio" in e]
mnem = [(e["step"], e["ratio_to_adam"]) for e in json.load(open(os.path.join(
    ROOT, "mnemosyne_lopt", "pretrained", "default", "selection.json")))]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(*zip(*mnem), "o-", label="Mnemosyne v2 (meta_train/v2.gin)")
ax.plot(*zip(*celo), "s-", label="Celo2-style (meta_train/v2_celo2_style.gin)")
ax.axhline(1.0, color="gray", lw=0.8, ls="--")
ax.set_yscale("log")
ax.set_xlabel("outer step")
ax.set_ylabel("selection loss / Adam(1e-3)'s")
ax.legend(fontsize=8)
ax.set_title("Same recipe, same outer steps: held-out selection score", fontsize=9)
fig.tight_layout()
fig.savefig(os.path.join(HERE, "selection_vs_mnemosyne.png"), dpi=100)
print("wrote", os.path.join(HERE, "selection_vs_mnemosyne.png"))

"""Selection score (validation loss after 1,000 steps / Adam(1e-3)'s, mean over the three selection
tasks of meta_train/v2.gin) against outer step: the Celo2-style rule's stages, each stage's steps
counted after the previous ones', beside Mnemosyne v2's run that made the pretrained default.
Writes ``selection_vs_mnemosyne.png`` in each stage folder, with the stages up to that one:

    .venv/bin/python docs/results/meta_training/plot_celo2_selection.py
"""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
STAGES = ("celo2_style_v2_stage1", "celo2_style_v2_stage2", "celo2_style_v2_stage3",
          "celo2_style_v2_stage4", "celo2_style_v2_stage5", "celo2_style_v2_stage6",
          "celo2_style_v2_stage7", "celo2_style_v2_stage8")


def stage_history(name):
  with open(os.path.join(HERE, name, "history.json")) as f:
    return json.load(f)


def plot(stages):
  """The figure of ``stages`` (folder names, in order), written into the last one's folder."""
  celo, offset, ends = [], 0, []
  for name in stages:
    history = stage_history(name)
    celo += [(e["step"] + offset, e["eval_ratio"]) for e in history if "eval_ratio" in e]
    offset += history[-1]["step"]
    ends.append(offset)
  with open(os.path.join(ROOT, "mnemosyne_lopt", "pretrained", "default", "selection.json")) as f:
    mnem = [(e["step"], e["ratio_to_adam"]) for e in json.load(f)]
  fig, ax = plt.subplots(figsize=(6, 3.5))
  ax.plot(*zip(*mnem), "o-", label="Mnemosyne v2 (meta_train/v2.gin)")
  label = "stage 1" if len(stages) == 1 else f"stages 1-{len(stages)}"
  ax.plot(*zip(*celo), "s-", label=f"Celo2-style, {label} (meta_train/v2_celo2_style.gin)")
  for end in ends[:-1]:
    ax.axvline(end, color="gray", lw=0.6, ls=":")
  ax.axhline(1.0, color="gray", lw=0.8, ls="--")
  ax.set_yscale("log")
  ax.set_xlabel("outer step")
  ax.set_ylabel("selection loss / Adam(1e-3)'s")
  ax.legend(fontsize=8)
  ax.set_title("Same recipe, same outer steps: held-out selection score", fontsize=9)
  fig.tight_layout()
  out = os.path.join(HERE, stages[-1], "selection_vs_mnemosyne.png")
  fig.savefig(out, dpi=100)
  plt.close(fig)
  print("wrote", out)


if __name__ == "__main__":
  for k in range(1, len(STAGES) + 1):
    plot(STAGES[:k])

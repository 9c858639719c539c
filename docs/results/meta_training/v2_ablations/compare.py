"""Selection score (validation loss after 1,000 steps / Adam(1e-3)'s, mean over the three selection
tasks of meta_train/v2.gin) of Mnemosyne v2 and its ablations at every evaluation of their
500-outer-step runs (``run.sh``, ``run_full.sh``), from the ``history.json`` each run folder holds.
Writes ``selection.md`` and ``selection.png`` beside this script:

    .venv/bin/python docs/results/meta_training/v2_ablations/compare.py
"""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = (("full", "Mnemosyne v2 (v2.gin)"), ("no_hpe", "no HPE (use_hpe=False)"),
        ("no_cam", "no CAM history (use_cam=False)"),
        ("no_norm", "no step normalisation (normalize_step=False)"))
SHORT = {"ImageMLP_fashion_mnist28_96x32_tanh_0": "FMNIST 28 tanh",
         "ImageMLP_digits8_64_relu_1": "digits", "TeacherStudent_16_48_to_48x48_1_bs64_2": "teacher-student"}


def evaluations(name):
  """[(outer step, mean ratio, {task: ratio})] of the run folder ``name``."""
  with open(os.path.join(HERE, name, "history.json")) as f:
    history = json.load(f)
  return [(e["step"], e["eval_ratio"], {t: v["mnemosyne"] / v["adam"] for t, v in e["eval"].items()})
          for e in history if "eval_ratio" in e]


def main():
  runs = [(n, label, evaluations(n)) for n, label in RUNS if os.path.exists(os.path.join(HERE, n, "history.json"))]
  steps = sorted({s for _, _, ev in runs for s, _, _ in ev})
  lines = ["| run | " + " | ".join(f"step {s}" for s in steps) + " | best | best: " +
           " / ".join(SHORT.values()) + " |", "|---|" + "---:|" * (len(steps) + 2)]
  for _, label, ev in runs:
    by_step = {s: r for s, r, _ in ev}
    best = min(ev, key=lambda e: e[1])
    per_task = " / ".join(f"{best[2][t]:.3f}" for t in SHORT)
    lines.append(f"| {label} | " + " | ".join(f"{by_step[s]:.3f}" if s in by_step else "-" for s in steps)
                 + f" | {best[1]:.3f} (step {best[0]}) | {per_task} |")
  table = "\n".join(lines)
  with open(os.path.join(HERE, "selection.md"), "w") as f:
    f.write("Selection score (validation loss / Adam(1e-3)'s after 1,000 steps, mean over the three "
            "selection tasks; lower is better), 500 outer steps of meta_train/v2.gin each:\n\n" + table + "\n")
  print(table)
  fig, ax = plt.subplots(figsize=(6, 3.5))
  for _, label, ev in runs:
    ax.plot([e[0] for e in ev], [e[1] for e in ev], "o-", label=label)
  ax.axhline(1.0, color="gray", lw=0.8, ls="--")
  ax.set_xlabel("outer step")
  ax.set_ylabel("selection loss / Adam(1e-3)'s")
  ax.legend(fontsize=7)
  ax.set_title("Ablations of Mnemosyne v2, same recipe and outer steps", fontsize=9)
  fig.tight_layout()
  fig.savefig(os.path.join(HERE, "selection.png"), dpi=100)
  plt.close(fig)


if __name__ == "__main__":
  main()

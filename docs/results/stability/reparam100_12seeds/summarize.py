"""The table of ``screens.sh``'s JSON files: blow-ups / runs and the median final loss per
setting, learning rate and optimizer.

    .venv/bin/python docs/results/stability/reparam100_12seeds/summarize.py
"""
import glob
import json
import os

from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = ("shipped", "wd0", "coordinate_cap1", "coordinate_cap1_aligned")
OPTIMIZERS = ("mnemosyne", "mnemosyne_T", "adamw", "adamw_wd0.1")


def main():
  rows = ["| setting | learning rate | " + " | ".join(f"`{o}`" for o in OPTIMIZERS) + " |",
          "|---|---:|" + "---:|" * len(OPTIMIZERS)]
  for lr in ("1e-3", "2e-3", "3e-3"):
    for setting in SETTINGS:
      path = os.path.join(HERE, f"{setting}_lr{lr}.json")
      if not os.path.exists(path):
        continue
      with open(path) as f:
        results = json.load(f)["results"]
      cells = [stability.format_cell([r for r in results if r["optimizer"] == o]) for o in OPTIMIZERS]
      rows.append(f"| {setting} | {lr} | " + " | ".join(cells) + " |")
  print("\n".join(rows))
  names = set(os.path.basename(p).rsplit("_lr", 1)[0] for p in glob.glob(os.path.join(HERE, "*_lr*.json")))
  assert names <= set(SETTINGS), names - set(SETTINGS)


if __name__ == "__main__":
  main()

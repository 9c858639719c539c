"""The table of ``screens.sh``'s JSON files: blow-ups / runs and the median final loss per bound,
learning rate and optimizer (AdamW's from the screens that ran it).

    .venv/bin/python docs/results/stability/coordinate_bound/summarize.py
"""
import glob
import json
import os

from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
BOUNDS = ("none", "tensor_cap1", "tensor_cap1.5", "coordinate_cap1", "coordinate_cap2",
          "relative_scales", "relative_scales_coordinate_cap2")


def cells(results, optimizer):
  return stability.format_cell([r for r in results if r["optimizer"] == optimizer])


def main():
  rows = ["| bound | learning rate | `mnemosyne` | `mnemosyne_T` | AdamW |", "|---|---:|---:|---:|---:|"]
  for lr in ("1e-3", "2e-3", "3e-3"):
    for bound in BOUNDS:
      path = os.path.join(HERE, f"{bound}_lr{lr}.json")
      if not os.path.exists(path):
        continue
      with open(path) as f:
        results = json.load(f)["results"]
      rows.append(f"| {bound} | {lr} | {cells(results, 'mnemosyne')} | {cells(results, 'mnemosyne_T')} "
                  f"| {cells(results, 'adamw')} |")
  print("\n".join(rows))
  unknown = set(os.path.basename(p).rsplit("_lr", 1)[0] for p in glob.glob(os.path.join(HERE, "*_lr*.json")))
  assert unknown <= set(BOUNDS), unknown - set(BOUNDS)


if __name__ == "__main__":
  main()

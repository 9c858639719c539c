"""The table of ``screens.sh``'s JSON files: blow-ups / runs and the median final loss per bound,
learning rate and optimizer (AdamW's from the screens that ran it).

    .venv/bin/python docs/results/stability/coordinate_bound/summarize.py
"""
import os

from mnemosyne_lopt import stability

BOUNDS = ("none", "tensor_cap1", "tensor_cap1.5", "coordinate_cap1", "coordinate_cap2",
          "relative_scales", "relative_scales_coordinate_cap2")

if __name__ == "__main__":
  print(stability.screens_table(os.path.dirname(os.path.abspath(__file__)), BOUNDS,
                                [("mnemosyne", "`mnemosyne`"), ("mnemosyne_T", "`mnemosyne_T`"),
                                 ("adamw", "AdamW")], first="bound"))

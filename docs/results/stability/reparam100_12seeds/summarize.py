"""The table of ``screens.sh``'s JSON files: blow-ups / runs and the median final loss per
setting, learning rate and optimizer.

    .venv/bin/python docs/results/stability/reparam100_12seeds/summarize.py
"""
import os

from mnemosyne_lopt import stability

SETTINGS = ("shipped", "wd0", "coordinate_cap1", "coordinate_cap1_aligned")
OPTIMIZERS = ("mnemosyne", "mnemosyne_T", "adamw", "adamw_wd0.1")

if __name__ == "__main__":
  print(stability.screens_table(os.path.dirname(os.path.abspath(__file__)), SETTINGS,
                                [(o, f"`{o}`") for o in OPTIMIZERS]))

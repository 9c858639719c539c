"""The table of ``screens.sh``'s JSON files: blow-ups / runs and the median final loss per
setting, learning rate and optimizer; of this folder, or of the folder given (``../reparam100_48seeds``
uses it too).

    .venv/bin/python docs/results/stability/reparam100_12seeds/summarize.py [folder]
"""
import os
import sys

from mnemosyne_lopt import stability

SETTINGS = ("shipped", "wd0", "coordinate_cap1", "coordinate_cap1_aligned",
            "relative_scales_coordinate_cap2", "relative_scales_coordinate_cap3",
            "relative_scales_coordinate_cap4", "orthogonal_pretrained",
            "orthogonal_pretrained_warmup_cosine", "orthogonal_meta", "orthogonal_gain_meta",
            "orthogonal_gain", "orthogonal_gain_long", "orthogonal_gain_long_meta", "mechanic")
OPTIMIZERS = ("mnemosyne", "mnemosyne_T", "adamw", "adamw_wd0.1", "mnemosyne_mechanic",
              "mnemosyne_mechanic_T", "adamw_mechanic")

if __name__ == "__main__":
  folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
  print(stability.screens_table(folder, SETTINGS, [(o, f"`{o}`") for o in OPTIMIZERS]))

"""Selection score of theta files on v2.gin's three selection tasks, seeds 0 and 1.

The score meta_train tracks: validation loss after 1,000 steps divided by Adam(1e-3)'s, mean over
the three tasks (``outer_trainers.meta_training.evaluate_against_adam``), for ``MnemosyneLOpt()``
as v2.gin meta-trains it (weight decay 0).  Writes ``selection_two_seeds.json`` here.

    .venv/bin/python docs/results/meta_training/v2_stable_finetune/selection_two_seeds.py \
        mnemosyne_lopt/pretrained/plain/theta.msgpack runs/v2_stable_ft/theta_best.msgpack
"""
import json
import os
import sys

import gin
import numpy as np

import mnemosyne_lopt
from mnemosyne_lopt import gin_configs
from mnemosyne_lopt import pretrained
from mnemosyne_lopt.outer_trainers import meta_training


def main(paths):
  gin.parse_config_files_and_bindings(
      [os.path.join(gin_configs.CONFIG_DIR, "meta_train/v2.gin")], [], finalize_config=False)
  tasks = gin.query_parameter("meta_train.eval_tasks")
  tasks = [t.scoped_configurable_fn() for t in tasks]
  lopt = mnemosyne_lopt.MnemosyneLOpt()
  out = {}
  for path in paths:
    with open(path, "rb") as f:
      theta = pretrained.read_theta(lopt, f.read(), path)
    for seed in (0, 1):
      res = meta_training.evaluate_against_adam(lopt, theta, tasks, num_steps=1000, seed=seed)
      out[f"{path} seed {seed}"] = float(np.mean([v["mnemosyne"] / v["adam"] for v in res.values()]))
      print(f"{path} seed {seed}: {out[f'{path} seed {seed}']:.3f}", flush=True)
  with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "selection_two_seeds.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1:])

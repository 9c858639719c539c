"""Pick a meta-training run's best meta-parameters on selection tasks (never the reported ones).

    .venv/bin/python scripts/select_checkpoint.py --thetas 'runs/v2_snapshots/theta_*.msgpack' \
        --task fashion_mnist:28:96,32:tanh:128 --task digits:0:64:relu:64 \
        --num_steps 1000 --seeds 2 --json runs/v2_selection.json

Each candidate theta (flax msgpack of ``MnemosyneLOpt()``'s meta-parameters, gin-free defaults
unless ``--gin_config`` is given) trains every selection task for ``--num_steps`` steps per seed;
the score is the mean over tasks and seeds of (validation loss after training) / (Adam(1e-3)'s),
computed by ``meta_training.evaluate_against_adam`` on the same batches for every candidate.
A task spec is ``dataset:image_size:hidden,sizes:activation:batch_size[:train_size]`` (image_size 0:
native; train_size: only the first training examples, see ``datasets.image_datasets``).
"""

import argparse
import glob
import json
import re

import flax
import gin
import jax
import numpy as np

from mnemosyne_lopt import gin_configs
from mnemosyne_lopt.optimizer import MnemosyneLOpt
from mnemosyne_lopt.outer_trainers import meta_training
from mnemosyne_lopt.tasks import image_mlp


def _task(spec, seed):
  dataset, size, hidden, act, batch, *train_size = spec.split(":")
  return image_mlp.ImageMLP(dataset, int(size) or None, tuple(int(h) for h in hidden.split(",")),
                            batch_size=int(batch), seed=seed, activation=act,
                            train_size=int(train_size[0]) if train_size else None)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--thetas", required=True, help="glob of theta .msgpack files")
  parser.add_argument("--task", action="append", required=True)
  parser.add_argument("--num_steps", type=int, default=1000)
  parser.add_argument("--seeds", type=int, default=2)
  parser.add_argument("--gin_config", default=None)
  parser.add_argument("--json", default=None)
  args = parser.parse_args(argv)
  if args.gin_config:
    gin.add_config_file_search_path(gin_configs.CONFIG_DIR)
    gin.parse_config_files_and_bindings([args.gin_config], [])
  lopt = MnemosyneLOpt()
  template = lopt.init(jax.random.PRNGKey(0))
  paths = sorted(glob.glob(args.thetas), key=lambda p: [int(x) for x in re.findall(r"\d+", p)] or [0])
  if not paths:
    parser.error(f"no file matches {args.thetas!r}")
  tasks = {seed: [_task(spec, seed) for spec in args.task] for seed in range(args.seeds)}
  scores = {}
  for path in paths:
    with open(path, "rb") as f:
      theta = flax.serialization.from_bytes(template, f.read())
    ratios, detail = [], []
    for seed, seed_tasks in tasks.items():
      res = meta_training.evaluate_against_adam(lopt, theta, seed_tasks, num_steps=args.num_steps,
                                                seed=seed)
      ratios += [r["mnemosyne"] / r["adam"] for r in res.values()]
      detail.append(res)
    scores[path] = {"score": float(np.mean(ratios)), "ratios": ratios, "detail": detail}
    print(f"{path}: mean validation-loss ratio to Adam {scores[path]['score']:.4f}  "
          f"({', '.join(f'{r:.3f}' for r in ratios)})", flush=True)
  best = min(scores, key=lambda p: scores[p]["score"])
  print(f"best: {best} ({scores[best]['score']:.4f})")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"tasks": args.task, "num_steps": args.num_steps, "seeds": args.seeds,
                 "best": best, "scores": scores}, f, indent=1)
  return 0


if __name__ == "__main__":
  raise SystemExit(main())

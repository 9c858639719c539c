"""Quality of ``MnemosyneLOpt(compute_dtype="bfloat16")`` against float32, on the same theta.

Trains the held-out MLP tasks of ``mnemosyne_lopt.demo`` (``HELD_OUT_TASKS``: 28x28 MNIST/Fashion-MNIST
MLPs no meta-training family uses) with ``demo.run_optimizer`` for ``--num_steps`` steps, with the
per-chunk network in float32 and in bfloat16 (everything else identical: theta, data, seeds), and
with optax Adam(1e-3) for scale; reports final training loss (mean of the last 10% of steps) and
test loss side by side.

theta: ``benchmarks/results/bf16_quality_theta.msgpack``, the best held-out meta-parameters of the
project's ``runs/pretrained_default`` meta-training run (1000 outer steps; trained before
``max_log_magnitude`` existed, so it is used with ``max_log_magnitude=None``, as trained); with
``--theta init`` the untrained theta instead.

    PYTHONPATH=. .venv/bin/python benchmarks/bf16_quality.py --json benchmarks/results/bf16_quality.json
"""

import argparse
import functools
import json
import os
import sys
import time

import flax
import jax
import numpy as np

from mnemosyne_lopt import demo
from mnemosyne_lopt.optimizer import MnemosyneLOpt
from mnemosyne_lopt.outer_trainers import meta_training

THETA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bf16_quality_theta.msgpack")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--num_steps", type=int, default=300)
  parser.add_argument("--seeds", type=int, default=1)
  parser.add_argument("--theta", default=THETA, help="flax msgpack of theta, or 'init'")
  parser.add_argument("--json", default=None)
  args = parser.parse_args(argv)
  lopts = {dt: MnemosyneLOpt(max_log_magnitude=None, compute_dtype=dt) for dt in ("float32", "bfloat16")}
  theta = lopts["float32"].init(jax.random.PRNGKey(0))
  if args.theta != "init":
    with open(args.theta, "rb") as f:
      theta = flax.serialization.from_bytes(theta, f.read())
  fns = {"Adam lr=1e-3": lambda n: meta_training.adam_fns(1e-3)}
  for dt, lopt in lopts.items():
    fns[f"Mnemosyne {dt}"] = functools.partial(meta_training.lopt_fns, lopt, theta)
  results, start = {}, time.time()
  for spec in demo.HELD_OUT_TASKS:
    name = f"{spec[0]}{spec[1]} MLP{list(spec[2])} {spec[3]}"
    results[name] = {}
    for opt_name, f in fns.items():
      runs = [demo.run_optimizer(f, demo._task(spec, seed), args.num_steps, seed)  # pylint: disable=protected-access
              for seed in range(args.seeds)]
      results[name][opt_name] = dict(train=float(np.mean([r[0] for r in runs])),
                                     test=float(np.mean([r[1] for r in runs])), runs=runs)
      print(f"  {name:36s} {opt_name:20s} train {results[name][opt_name]['train']:.4f} "
            f"test {results[name][opt_name]['test']:.4f} ({time.time() - start:.0f} s)",
            file=sys.stderr, flush=True)
  names = list(fns)
  print(f"{args.num_steps} steps, {args.seeds} seed(s), theta {os.path.relpath(args.theta) if args.theta != 'init' else 'init'}; "
        "final train loss / test loss:\n")
  print("| task | " + " | ".join(names) + " | bf16 - f32 (train, test) |")
  print("|---|" + "---:|" * (len(names) + 1))
  for task, row in results.items():
    d = (row["Mnemosyne bfloat16"]["train"] - row["Mnemosyne float32"]["train"],
         row["Mnemosyne bfloat16"]["test"] - row["Mnemosyne float32"]["test"])
    print(f"| {task} | " + " | ".join(f"{row[n]['train']:.4f} / {row[n]['test']:.4f}" for n in names)
          + f" | {d[0]:+.4f}, {d[1]:+.4f} |")
  print(f"\nCommand: `PYTHONPATH=. {os.path.relpath(sys.executable)} benchmarks/bf16_quality.py "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}`; {time.time() - start:.0f} s.")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(num_steps=args.num_steps, seeds=args.seeds, theta=args.theta, results=results), f, indent=1)
  return results


if __name__ == "__main__":
  main()

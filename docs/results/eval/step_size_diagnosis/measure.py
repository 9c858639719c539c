"""How long each optimizer's steps are on held_out tasks: per training step, the RMS of the
parameter change over all coordinates, sqrt(sum_tensors |p_{t+1} - p_t|^2 / N), divided by the
learning rate, and per tensor the same ratio averaged over the run's second half.

    .venv/bin/python docs/results/eval/step_size_diagnosis/measure.py [--tasks a,b] [--steps N]

Optimizers at learning rate 1e-3, constant, seed 0: AdamW (decay 1e-4, as mnemosyne-eval's
``adamw``), the pretrained Mnemosyne v2 "plain" (``mnemosyne:pretrained/plain``: its decoupled
decay 0.1 included in its step), the Celo2-style rule at equal budget (stage 8's best theta, no
decay) and the same rule with Mnemosyne v2's per-coordinate bound (``celo2_style_bound``: each
coordinate's step at most twice Adam's).  Writes steps.json and steps.png next to this file;
prints a table of the means over steps.
"""

import argparse
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from mnemosyne_lopt import evaluation
from mnemosyne_lopt.outer_trainers import meta_training

HERE = os.path.dirname(os.path.abspath(__file__))
OPTIMIZERS = ("adamw", "mnemosyne:pretrained/plain",
              "celo2_style:docs/results/meta_training/celo2_style_v2_stage8",
              "celo2_style_bound:docs/results/meta_training/celo2_style_v2_stage8")
LR = 1e-3


def measure(spec, opt_name, num_steps, seed=0):
  opt = evaluation.make_optimizer(opt_name)
  init, update, get_params = opt.fns(opt.hyper, num_steps)
  task = spec.make(seed)
  params = task.init(jax.random.PRNGKey(seed))
  state = init(params)
  batches = meta_training.stack_batches(task.datasets.train, num_steps)
  keys = jax.random.split(jax.random.PRNGKey(seed), num_steps)

  @jax.jit
  def run(state, batches, keys):
    def body(s, batch_key):
      batch, key = batch_key
      p = get_params(s)
      loss, grad = jax.value_and_grad(task.loss)(p, key, batch)
      s2 = update(s, grad, loss)
      sq = jax.tree_util.tree_map(lambda a, b: jnp.sum(jnp.square(
          a.astype(jnp.float32) - b.astype(jnp.float32))), get_params(s2), p)
      return s2, (loss, jax.tree_util.tree_leaves(sq))
    return jax.lax.scan(body, state, (batches, keys))

  _, (losses, sq) = run(state, batches, keys)
  sizes = [int(np.size(x)) for x in jax.tree_util.tree_leaves(params)]
  names = ["/".join(str(getattr(k, "key", k)) for k in path)
           for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  sq = np.stack([np.asarray(x, np.float64) for x in sq], axis=1)      # [steps, tensors]
  total = np.sqrt(sq.sum(axis=1) / sum(sizes)) / LR
  half = num_steps // 2
  per_tensor = {n: float(np.mean(np.sqrt(sq[half:, i] / s)) / LR)
                for i, (n, s) in enumerate(zip(names, sizes))}
  return {"ratio": total.tolist(), "loss": np.asarray(losses, np.float64).tolist(),
          "per_tensor_second_half": per_tensor, "sizes": dict(zip(names, sizes))}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tasks", default="transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,"
                      "mnist_npm28_conv16x32")
  parser.add_argument("--steps", type=int, default=1000)
  args = parser.parse_args()
  specs = evaluation.select_tasks(evaluation.suite("held_out"), "held_out", args.tasks.split(","))
  out = {}
  print(f"{'task':34s} {'optimizer':22s} {'steps 0-99':>10s} {'100-499':>8s} {'500-end':>8s}"
        "   (step RMS / learning rate)")
  for spec in specs:
    for name in OPTIMIZERS:
      r = measure(spec, name, args.steps)
      out.setdefault(spec.name, {})[name.split(":")[0]] = r
      x = np.asarray(r["ratio"])
      print(f"{spec.name:34s} {name.split(':')[0]:22s} {x[:100].mean():10.3f} "
            f"{x[100:500].mean():8.3f} {x[500:].mean():8.3f}", flush=True)
  with open(os.path.join(HERE, "steps.json"), "w") as f:
    json.dump(out, f)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(out), figsize=(5.5 * len(out), 3.8), squeeze=False)
  for ax, (task, by_opt) in zip(axes[0], out.items()):
    for name, r in by_opt.items():
      x = np.asarray(r["ratio"])
      k = 20
      ax.plot(np.convolve(x, np.ones(k) / k, mode="valid"), label=name)
    ax.set_title(task)
    ax.set_xlabel("step")
    ax.set_ylabel("step RMS / learning rate")
    ax.set_yscale("log")
    ax.legend()
  fig.tight_layout()
  fig.savefig(os.path.join(HERE, "steps.png"), dpi=100)


if __name__ == "__main__":
  main()

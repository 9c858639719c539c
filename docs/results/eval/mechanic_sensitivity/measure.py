"""How far a run's final test loss moves when one gradient is perturbed by a part in a million.

For each held_out task given (seed 0, the task's own length) and each optimizer, two runs through
``mnemosyne-eval``'s training loop (``evaluation.run_one``): as is, and with the first gradient
leaf multiplied by 1 + 2^-20 at every update (a perturbation near float32 rounding that no
optimizer here is invariant to; multiplying every gradient by a constant would be invisible to
the scale-invariant ones).  Optimizers: AdamW at 1e-3 and at 1e-2, ``mnemosyne()`` untuned,
``mnemosyne_mechanic()`` with the constant shape and with the warmup-cosine shape
(``evaluation.learning_rate_schedule("warmup_cosine", 1.0, T)``).  Prints and writes
``results.json`` beside this file: per task and optimizer the two final test losses and their
relative difference.

    .venv/bin/python docs/results/eval/mechanic_sensitivity/measure.py \
        [--tasks mnist_npm28_conv16x32,vit_tiny_finetune]
"""

import argparse
import json
import os

import jax
import optax

import mnemosyne_lopt
from mnemosyne_lopt import evaluation

OPTIMIZERS = {
    "AdamW 1e-3": lambda n: optax.adamw(1e-3),
    "AdamW 1e-2": lambda n: optax.adamw(1e-2),
    "mnemosyne()": lambda n: mnemosyne_lopt.mnemosyne(),
    "mnemosyne_mechanic(), constant": lambda n: mnemosyne_lopt.mnemosyne_mechanic(num_steps=n),
    "mnemosyne_mechanic(), warmup-cosine": lambda n: mnemosyne_lopt.mnemosyne_mechanic(
        evaluation.learning_rate_schedule("warmup_cosine", 1.0, n), num_steps=n),
}


def perturbed(tx):
  """``tx`` with the first gradient leaf multiplied by 1 + 2^-20."""
  tx = optax.with_extra_args_support(tx)

  def update(grads, state, params=None, **extra):
    leaves, treedef = jax.tree_util.tree_flatten(grads)
    leaves[0] = leaves[0] * (1 + 2.0 ** -20)
    return tx.update(treedef.unflatten(leaves), state, params, **extra)
  return optax.GradientTransformationExtraArgs(tx.init, update)


def final_test(spec, label, make):
  opt = evaluation.custom_optimizer(label, make)
  return evaluation.run_one(opt, opt.hyper, spec, 0, spec.num_steps)["final_test"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--tasks", default="mnist_npm28_conv16x32,vit_tiny_finetune")
  args = parser.parse_args()
  specs = {s.name: s for s in evaluation.suite("held_out")}
  results = {}
  for task in args.tasks.split(","):
    results[task] = {}
    for name, make in OPTIMIZERS.items():
      a = final_test(specs[task], f"{name} as is", lambda n, make=make: make(n))
      b = final_test(specs[task], f"{name} perturbed", lambda n, make=make: perturbed(make(n)))
      results[task][name] = {"final_test": a, "perturbed": b, "relative": abs(b - a) / a}
      print(f"{task:24s} {name:38s} {a:.4f} {b:.4f} {100 * abs(b - a) / a:6.2f} %", flush=True)
  with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"), "w") as f:
    json.dump(results, f, indent=1)


if __name__ == "__main__":
  main()

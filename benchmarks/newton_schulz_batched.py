"""The default's orthogonalisation of a whole tree's steps: one iteration per matrix against small
matrices batched by shape (``orthogonalize.orthogonalize_like_many``, what the optimizer runs).

For each tree (``step_overhead.MODEL_TREES``, or a task of ``tasks.registry`` by name) it jits, as
one program over every tensor of the tree (N(0, 1) steps, float32):

  * ``per_tensor``: ``[orthogonalize_like(d) for d in tree]``;
  * ``batched``: ``orthogonalize_like_many(tree)``: matrices of at most
    ``orthogonalize.BATCH_MAX_SIZE`` entries whose wide forms share a shape run as one batched
    iteration;

and times them in interleaved rounds (``--rounds``, each about ``--target_ms`` of calls per
function), reporting medians, the paired ratio (median over rounds of batched / per-tensor), the
number of iterations each program runs and the largest difference between the two results
relative to each tensor's largest entry:

    PYTHONPATH=. taskset -c 0 .venv/bin/python benchmarks/newton_schulz_batched.py \
        --trees transformer_lm_tiny,vit_tiny --json OUT.json
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

import benchmark_common            # pylint: disable=g-import-not-at-top
import step_overhead               # (the trees; imports mnemosyne_lopt first)
from mnemosyne_lopt import orthogonalize


def tree_shapes(name):
  if name in step_overhead.MODEL_TREES:
    return list(step_overhead.MODEL_TREES[name]().values())
  return list(step_overhead.registry_shapes(name).values())


def iterations(shapes):
  """(per tensor, batched): how many Newton-Schulz iterations each program runs."""
  groups, large = orthogonalize.batch_groups(shapes)
  return sum(map(len, groups.values())) + len(large), len(groups) + len(large)


def time_rounds(fns, xs, rounds, target_ms):
  calls = {}
  for name, fn in fns.items():
    jax.block_until_ready(fn(xs))
    t0 = time.perf_counter()
    jax.block_until_ready(fn(xs))
    calls[name] = max(1, int(target_ms / max(1e3 * (time.perf_counter() - t0), 1e-3)))
  per_round = {name: [] for name in fns}
  for _ in range(rounds):
    for name, fn in fns.items():
      ts = []
      for _ in range(calls[name]):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(xs))
        ts.append(time.perf_counter() - t0)
      per_round[name].append(1e3 * float(np.median(ts)))
  return per_round


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--trees", default="transformer_lm_tiny,vit_tiny")
  parser.add_argument("--rounds", type=int, default=15)
  parser.add_argument("--target_ms", type=float, default=200.0)
  parser.add_argument("--json", default=None)
  args = parser.parse_args(argv)
  per_tensor = jax.jit(lambda xs: [orthogonalize.orthogonalize_like(x) for x in xs])
  batched = jax.jit(orthogonalize.orthogonalize_like_many)
  rows = []
  print("| tree | tensors | iterations: per tensor, batched | per tensor ms | batched ms | "
        "batched / per tensor (paired) | max difference / max entry |")
  print("|---|---:|---:|---:|---:|---:|---:|")
  for tree in args.trees.split(","):
    shapes = tree_shapes(tree)
    key = jax.random.PRNGKey(0)
    xs = [jax.random.normal(jax.random.fold_in(key, i), s, jnp.float32)
          for i, s in enumerate(shapes)]
    a, b = per_tensor(xs), batched(xs)
    diff = max(float(jnp.max(jnp.abs(u - v)) / jnp.maximum(jnp.max(jnp.abs(u)), 1e-30))
               for u, v in zip(a, b))
    rounds = time_rounds({"per_tensor": per_tensor, "batched": batched}, xs, args.rounds,
                         args.target_ms)
    paired = float(np.median(np.asarray(rounds["batched"]) / np.asarray(rounds["per_tensor"])))
    its = iterations(shapes)
    row = dict(tree=tree, tensors=len(shapes), iterations_per_tensor=its[0],
               iterations_batched=its[1], per_tensor_ms=float(np.median(rounds["per_tensor"])),
               batched_ms=float(np.median(rounds["batched"])), paired_ratio=paired,
               max_relative_difference=diff, rounds=rounds)
    rows.append(row)
    print(f"| `{tree}` | {len(shapes)} | {its[0]}, {its[1]} | {row['per_tensor_ms']:.3f} | "
          f"{row['batched_ms']:.3f} | {paired:.3f} | {diff:.1e} |", flush=True)
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(rows=rows, batch_max_size=orthogonalize.BATCH_MAX_SIZE, args=vars(args),
                     code=benchmark_common.code_version(), devices=str(jax.devices())), f,
                indent=1)


if __name__ == "__main__":
  main()

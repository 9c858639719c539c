"""The default's Newton-Schulz iteration on the matrices of the model trees: direct form against
the Gram form that ``orthogonalize.newton_schulz`` takes when a matrix's long side exceeds 1.5x its
short one (equations in ``mnemosyne_lopt/orthogonalize.py``).

For every distinct matrix shape of a tree (``step_overhead.MODEL_TREES``; tensors with more than
two axes seen as [prod(shape[:-1]), shape[-1]], as the optimizer sees them) it times
``_newton_schulz_direct`` and ``newton_schulz`` (jit, float32, one process, interleaved, best of
``--rounds`` x 3 calls), and prints the tree's total per update (each shape's time times its
count) and each form's largest difference from the float64 direct recursion on a N(0, 1) matrix
and on one with singular values log-spaced over [1e-3.5, 1], relative to the largest entry:

    PYTHONPATH=. taskset -c 0 .venv/bin/python benchmarks/newton_schulz.py \
        --trees transformer_lm_tiny,vit_tiny,gpt2_small,vit_b16,bert_base --json OUT.json
"""

import argparse
import collections
import json
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

import benchmark_common            # pylint: disable=g-import-not-at-top
import step_overhead               # (the trees; imports mnemosyne_lopt first)
from mnemosyne_lopt import orthogonalize


def matrix_shapes(tree_name):
  """{(R, C): count} of the tensors of ``tree_name`` that the optimizer orthogonalises."""
  counts = collections.Counter()
  for shape in step_overhead.MODEL_TREES[tree_name]().values():
    if orthogonalize.is_matrix(shape):
      counts[(math.prod(shape[:-1]), shape[-1])] += 1
  return counts


def reference(x):
  """The direct recursion in float64 (``_newton_schulz_direct`` keeps its input's dtype)."""
  with jax.enable_x64(True):
    return np.asarray(orthogonalize._newton_schulz_direct(jnp.asarray(x, jnp.float64)))  # pylint: disable=protected-access


def errors(shape, fns, rng):
  out = {}
  r, c = shape
  k = min(r, c)
  u, _ = np.linalg.qr(rng.standard_normal((r, k)))
  v, _ = np.linalg.qr(rng.standard_normal((c, k)))
  for kind, x in (("gaussian", rng.standard_normal(shape)),
                  ("ill_conditioned", (u * np.logspace(0, -3.5, k)) @ v.T)):
    want = reference(x)
    scale = np.abs(want).max()
    for name, fn in fns.items():
      got = np.asarray(fn(jnp.asarray(x, jnp.float32)), np.float64)
      out[f"{name}_{kind}"] = float(np.abs(got - want).max() / scale)
  return out


def best_ms(fns, x, rounds):
  best = {name: float("inf") for name in fns}
  for _ in range(rounds):
    for name, fn in fns.items():
      t0 = time.perf_counter()
      for _ in range(3):
        fn(x).block_until_ready()
      best[name] = min(best[name], (time.perf_counter() - t0) / 3)
  return {name: 1e3 * t for name, t in best.items()}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--trees", default="transformer_lm_tiny,vit_tiny,gpt2_small,vit_b16,bert_base")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--json", default=None)
  parser.add_argument("--error_max_entries", type=int, default=0,
                      help="measure errors only on matrices with at most this many entries (0: all)")
  args = parser.parse_args(argv)
  fns = {"direct": jax.jit(orthogonalize._newton_schulz_direct),   # pylint: disable=protected-access
         "shipped": jax.jit(orthogonalize.newton_schulz)}
  rng = np.random.default_rng(0)
  shape_rows, tree_rows, seen = {}, [], {}
  print("| tree | matrices | direct ms / update | shipped ms / update | shipped / direct |")
  print("|---|---:|---:|---:|---:|")
  for tree in args.trees.split(","):
    counts = matrix_shapes(tree)
    total = {"direct": 0.0, "shipped": 0.0}
    for shape, count in sorted(counts.items()):
      if shape not in seen:
        x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
        for fn in fns.values():
          fn(x).block_until_ready()
        measure = not args.error_max_entries or math.prod(shape) <= args.error_max_entries
        nan = {f"{n}_{k}": float("nan") for n in fns for k in ("gaussian", "ill_conditioned")}
        seen[shape] = dict(shape=list(shape), ms=best_ms(fns, x, args.rounds),
                           gram=2 * max(shape) > 3 * min(shape),
                           **(errors(shape, fns, rng) if measure else nan))
        shape_rows[str(shape)] = seen[shape]
      for name in total:
        total[name] += count * seen[shape]["ms"][name]
    tree_rows.append(dict(tree=tree, matrices=sum(counts.values()), ms=total,
                          shapes={str(s): n for s, n in counts.items()}))
    print(f"| `{tree}` | {sum(counts.values())} | {total['direct']:.1f} | {total['shipped']:.1f} | "
          f"{total['shipped'] / total['direct']:.2f} |", flush=True)
  print("\n| shape | form | direct ms | shipped ms | ratio | max error / max entry: direct, shipped "
        "(N(0,1)); direct, shipped (ill-conditioned) |")
  print("|---|---|---:|---:|---:|---|")
  for row in shape_rows.values():
    r, c = row["shape"]
    print(f"| {r} x {c} | {'Gram' if row['gram'] else 'direct'} | {row['ms']['direct']:.2f} | "
          f"{row['ms']['shipped']:.2f} | {row['ms']['shipped'] / row['ms']['direct']:.2f} | "
          f"{row['direct_gaussian']:.1e}, {row['shipped_gaussian']:.1e}; "
          f"{row['direct_ill_conditioned']:.1e}, {row['shipped_ill_conditioned']:.1e} |")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(trees=tree_rows, shapes=list(shape_rows.values()), rounds=args.rounds,
                     code=benchmark_common.code_version(), devices=str(jax.devices())), f, indent=1)


if __name__ == "__main__":
  main()

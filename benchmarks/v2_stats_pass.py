"""The v2 statistics pass alone: seven per-chunk Gram sums over A, G, S on four 1024 x 1024 tensors.

Times (median of interleaved rounds, jit, one process) three ways of computing the same sums:

  * ``lanes``: ``hpe.ChunkLayout.variadic_sums`` as shipped (each chunk as 8 lane groups, one
    variadic reduce over the groups, then a sum over the lanes);
  * ``variadic``: one variadic ``lax.reduce`` over each whole chunk;
  * ``separate``: seven ``jnp.sum``s.

and checks that they agree; beside them, for scale, ``adam``: optax Adam's whole update of the same
tensors (its m, v and step).

    PYTHONPATH=. .venv/bin/python benchmarks/v2_stats_pass.py
"""

import time

import mnemosyne_lopt  # noqa: F401
from mnemosyne_lopt import hpe
from mnemosyne_lopt.optimizer import MnemosyneLOpt

import jax  # pylint: disable=g-import-not-at-top,wrong-import-order
import jax.numpy as jnp
import numpy as np
import optax


def main():
  lopt = MnemosyneLOpt()
  key = jax.random.PRNGKey(0)
  gs = [1e-3 * jax.random.normal(jax.random.fold_in(key, i), (1024, 1024)) for i in range(4)]
  ms = [0.5 * g for g in gs]
  vs = [g * g + 1e-8 for g in gs]
  it = jnp.asarray(10)
  layout = hpe.ChunkLayout((1024, 1024), lopt.chunk_length)

  def products(g, m, v):
    _, v1, a, gr, sg = lopt._features_v2(g, m, v, it)  # pylint: disable=protected-access
    return (a * a, gr * gr, a * gr, jnp.abs(a), gr * sg, jnp.abs(sg), v1)

  def variadic(views):
    zeros = tuple(jnp.zeros((), jnp.float32) for _ in views)
    return jax.lax.reduce(views, zeros, lambda a, b: tuple(x + y for x, y in zip(a, b)), (1,))

  ways = {
      "lanes": lambda g, m, v: layout.variadic_sums(products(g, m, v)),
      "variadic": lambda g, m, v: variadic(products(g, m, v)),
      "separate": lambda g, m, v: tuple(x.sum(1) for x in products(g, m, v)),
  }
  fns = {k: jax.jit(lambda gs, ms, vs, f=f: [f(g, m, v) for g, m, v in zip(gs, ms, vs)])
         for k, f in ways.items()}
  adam = optax.adam(1e-3)
  treedef = jax.tree_util.tree_structure(adam.init(gs))

  def adam_update(gs, ms, vs):            # the state (count, mu = ms, nu = vs) as arguments
    state = jax.tree_util.tree_unflatten(treedef, [jnp.zeros([], jnp.int32)] + ms + vs)
    return adam.update(gs, state)
  fns["adam"] = jax.jit(adam_update)
  outs = {k: jax.block_until_ready(f(gs, ms, vs)) for k, f in fns.items()}
  for k in ("variadic", "separate"):
    for a, b in zip(jax.tree_util.tree_leaves(outs["lanes"]), jax.tree_util.tree_leaves(outs[k])):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  times = {k: [] for k in fns}
  for _ in range(7):
    for k, f in fns.items():
      t0 = time.perf_counter()
      for _ in range(5):
        jax.block_until_ready(f(gs, ms, vs))
      times[k].append((time.perf_counter() - t0) / 5 * 1e3)
  for k in fns:
    print(f"{k:9s} {np.median(times[k]):7.2f} ms")


if __name__ == "__main__":
  main()

"""The v2 statistics pass alone: seven per-chunk Gram sums over A, G, S on ``--tensors`` (4)
tensors of ``--shape`` (1024,1024).

Times (median of interleaved rounds, jit, one process) three ways of computing the same sums:

  * ``lanes``: as shipped, ``hpe.ChunkLayout.map_sums`` (each chunk as 8 lane groups, one
    variadic reduce over the groups, then a sum over the lanes);
  * ``variadic``: one variadic ``lax.reduce`` over each whole chunk (1024 x 1024 only);
  * ``separate``: seven ``jnp.sum``s (1024 x 1024 only).

and checks that they agree; beside them, what the lane sums cost without parts of their work (not
the same sums; to say where the time goes):

  * ``lanes_no_sqrt_div``: the seven products with 1 / (sqrt(v_hat) + eps) replaced by
    v_hat + eps (no square root, no division);
  * ``lanes_3``: only the three sums A^2, G^2, A G;
  * ``lanes_floor``: three sums, of g, of m and of v (the reads of g, m, v alone);

and, for scale, ``adam``: optax Adam's whole update of the same tensors (its m, v and step; not
donated, so it writes new buffers).

    PYTHONPATH=. .venv/bin/python benchmarks/v2_stats_pass.py [--tensors 38] [--shape 768,2304]
"""

import argparse
import time

import mnemosyne_lopt  # noqa: F401
from mnemosyne_lopt import hpe
from mnemosyne_lopt.optimizer import MnemosyneLOpt

import jax  # pylint: disable=g-import-not-at-top,wrong-import-order
import jax.numpy as jnp
import numpy as np
import optax


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tensors", type=int, default=4, help="how many tensors [4]")
  parser.add_argument("--shape", default="1024,1024", help="each tensor's shape [1024,1024]")
  args = parser.parse_args(argv)
  shape = tuple(int(d) for d in args.shape.split(","))
  lopt = MnemosyneLOpt()
  key = jax.random.PRNGKey(0)
  gs = [1e-3 * jax.random.normal(jax.random.fold_in(key, i), shape) for i in range(args.tensors)]
  ms = [0.5 * g for g in gs]
  vs = [g * g + 1e-8 for g in gs]
  it = jnp.asarray(10)
  layout = hpe.ChunkLayout(shape, lopt.chunk_length)
  whole_chunks = shape == (lopt.chunk_length, lopt.chunk_length)

  def products(g, m, v):
    _, v1, a, gr, sg = lopt._features_v2(g, m, v, it)  # pylint: disable=protected-access
    return (a * a, gr * gr, a * gr, jnp.abs(a), gr * sg, jnp.abs(sg), v1)

  def variadic(views):
    zeros = tuple(jnp.zeros((), jnp.float32) for _ in views)
    return jax.lax.reduce(views, zeros, lambda a, b: tuple(x + y for x, y in zip(a, b)), (1,))

  def products_no_sqrt_div(g, m, v):
    t = (it + 1).astype(jnp.float32)
    m1, v1 = lopt._accumulate_v2(g, m, v)  # pylint: disable=protected-access
    rs = v1 / (1.0 - lopt.beta2 ** t) + lopt.epsilon
    a, gr, sg = m1 / (1.0 - lopt.beta1 ** t) * rs, g * rs, jnp.sign(m1)
    return (a * a, gr * gr, a * gr, jnp.abs(a), gr * sg, jnp.abs(sg), v1)

  lanes = lambda fn: lambda g, m, v: layout.map_sums(fn, (g, m, v), stacked=True)
  ways = {
      "lanes": lanes(products),
      "lanes_no_sqrt_div": lanes(products_no_sqrt_div),
      "lanes_3": lanes(lambda g, m, v: products(g, m, v)[:3]),
      "lanes_floor": lanes(lambda g, m, v: (g, m, v)),
  }
  if whole_chunks:
    ways["variadic"] = lambda g, m, v: jnp.stack(variadic(products(g, m, v)), -1)
    ways["separate"] = lambda g, m, v: jnp.stack([x.sum(1) for x in products(g, m, v)], -1)
  fns = {k: jax.jit(lambda gs, ms, vs, f=f: [f(g, m, v) for g, m, v in zip(gs, ms, vs)])
         for k, f in ways.items()}
  adam = optax.adam(1e-3)
  treedef = jax.tree_util.tree_structure(adam.init(gs))

  def adam_update(gs, ms, vs):            # the state (count, mu = ms, nu = vs) as arguments
    state = jax.tree_util.tree_unflatten(treedef, [jnp.zeros([], jnp.int32)] + ms + vs)
    return adam.update(gs, state)
  fns["adam"] = jax.jit(adam_update)
  outs = {k: jax.block_until_ready(f(gs, ms, vs)) for k, f in fns.items()}
  np.testing.assert_allclose(outs["lanes"][0], lopt._chunk_sums_v2(layout, gs[0], ms[0], vs[0], it),  # pylint: disable=protected-access
                             rtol=1e-6)     # the shipped statistics pass
  for k in ("variadic", "separate") if whole_chunks else ():
    for a, b in zip(jax.tree_util.tree_leaves(outs["lanes"]), jax.tree_util.tree_leaves(outs[k])):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  times = {k: [] for k in fns}
  for _ in range(7):
    for k, f in fns.items():
      t0 = time.perf_counter()
      for _ in range(5):
        jax.block_until_ready(f(gs, ms, vs))
      times[k].append((time.perf_counter() - t0) / 5 * 1e3)
  n = args.tensors * int(np.prod(shape))
  print(f"{args.tensors} tensors of {' x '.join(map(str, shape))} ({n:,} parameters, "
        f"{layout.num_chunks} chunks each), median of 7 rounds:")
  for k in fns:
    print(f"{k:18s} {np.median(times[k]):8.2f} ms  {1e6 * np.median(times[k]) / n:5.2f} ns/param")


if __name__ == "__main__":
  main()

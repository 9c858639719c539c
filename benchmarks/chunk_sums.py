"""Ways of computing Mnemosyne's per-chunk statistics, timed side by side on one tree.

The update's first pass sums, per chunk of 1024 coordinates, g^2, m^2, g m, v and p^2 over a tree
of 1024 x 1024 float32 tensors (``--params`` M parameters).  Variants:

  * ``variadic``  one ``lax.reduce`` with five operands (one read of p, g, m, v in principle);
  * ``separate``  five ``jnp.sum`` (what ``hpe.ChunkLayout.sums`` does);
  * ``einsum``    the products as batched dot products (``einsum('cl,cl->c')``);
  * ``separate_no_v``  ``separate`` without the sum of v (what carrying sum v in the state would
    leave to compute).

Every variant is checked against a float64 NumPy computation before it is timed (error < 1e-5
relative to the sum of the terms' magnitudes), then each runs ``--reps`` times; the median is printed.  Run it on a quiet machine (or
pinned to one core with ``taskset -c 0``):

    PYTHONPATH=. .venv/bin/python benchmarks/chunk_sums.py --params 4
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np


def _variadic(p, g, m, v):
  zeros = tuple(jnp.float32(0) for _ in range(5))
  add = lambda a, b: tuple(x + y for x, y in zip(a, b))
  return [jax.lax.reduce((b * b, c * c, b * c, d, a * a), zeros, add, (1,))
          for a, b, c, d in zip(p, g, m, v)]


def _separate(p, g, m, v):
  return [tuple(jnp.sum(x, -1) for x in (b * b, c * c, b * c, d, a * a)) for a, b, c, d in zip(p, g, m, v)]


def _einsum(p, g, m, v):
  dot = lambda x, y: jnp.einsum("cl,cl->c", x, y)
  return [(dot(b, b), dot(c, c), dot(b, c), jnp.sum(d, -1), dot(a, a)) for a, b, c, d in zip(p, g, m, v)]


def _separate_no_v(p, g, m, v):
  del v
  return [tuple(jnp.sum(x, -1) for x in (b * b, c * c, b * c, a * a)) for a, b, c in zip(p, g, m)]


VARIANTS = {"variadic": _variadic, "separate": _separate, "einsum": _einsum,
            "separate_no_v": _separate_no_v}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--params", type=int, default=4, help="millions of parameters (1024x1024 tensors)")
  parser.add_argument("--reps", type=int, default=80)
  args = parser.parse_args(argv)
  key = jax.random.PRNGKey(0)
  n = args.params
  arrays = [jax.random.normal(jax.random.fold_in(key, i), (1024, 1024)) for i in range(4 * n)]
  p, g, m = arrays[:n], arrays[n:2 * n], arrays[2 * n:3 * n]
  v = [jnp.abs(x) for x in arrays[3 * n:]]
  f64 = lambda x: np.asarray(x, np.float64)
  pairs = lambda a, b, c, d: ((f64(b), f64(b)), (f64(c), f64(c)), (f64(b), f64(c)),
                              (f64(d), np.ones_like(f64(d))), (f64(a), f64(a)))
  # Exact sums, and the sums of |terms| as the scale of float32 rounding (g m cancels).
  exact = [[np.sum(x * y, -1) for x, y in pairs(*t)] for t in zip(p, g, m, v)]
  scale = [[np.sum(np.abs(x * y), -1) for x, y in pairs(*t)] for t in zip(p, g, m, v)]
  print(f"{n}M parameters ({n} tensors of 1024x1024), {jax.devices()[0].platform}")
  print("| variant | ms (median) | max error / sum of |terms| |")
  print("|---|---:|---:|")
  for name, fn in VARIANTS.items():
    f = jax.jit(fn)
    out = jax.block_until_ready(f(p, g, m, v))
    idx = (0, 1, 2, 4) if name == "separate_no_v" else range(5)
    err = max(float(np.max(np.abs(np.asarray(o) - e[i]) / sc[i]))
              for got, e, sc in zip(out, exact, scale) for o, i in zip(got, idx))
    if err > 1e-5:
      raise AssertionError(f"{name} disagrees with float64 NumPy: relative error {err:.2e}")
    times = []
    for _ in range(args.reps):
      t = time.perf_counter()
      jax.block_until_ready(f(p, g, m, v))
      times.append(time.perf_counter() - t)
    print(f"| {name} | {1e3 * np.median(times):.2f} | {err:.1e} |")


if __name__ == "__main__":
  main()

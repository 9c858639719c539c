"""Where one Mnemosyne update spends its time: its three stages timed alone, next to optax Adam.

On a tree of ``--params`` x (1024 x 1024) float32 tensors, after a few updates of the shipped
pretrained Mnemosyne, this script times (median of ``--reps`` calls, each jitted):

  * ``adam``: optax ``adam(1e-3)`` + ``apply_updates``, state donated;
  * ``update``: the whole Mnemosyne update, state donated (what ``step_overhead.py`` times);
  * ``statistics``: the per-chunk sums over p, g, m (``_chunk_sums``);
  * ``network``: HPE, the CAM step and the head on all chunks' tokens (``_chunk_network``);
  * ``apply``: the per-coordinate pass (new m, v and p), m, v, p donated.

The stages are compiled apart, so their sum is not exactly the update's time (XLA overlaps and
fuses across them inside one program), but it says what dominates.  Then it times the short-axis
sums the network's normalisations are made of, ``jnp.sum(x, -1)`` against ``nn.sum_last``
(a product with a ones vector), on [tokens, 8] and [tokens, 16] arrays, after checking that they
agree.  Run on a quiet machine:

    PYTHONPATH=. .venv/bin/python benchmarks/update_breakdown.py --params 4
"""

import argparse
import time

import mnemosyne_lopt  # noqa: F401  (must precede any learned_optimization import: JAX shim)
from mnemosyne_lopt import hpe
from mnemosyne_lopt import nn
from mnemosyne_lopt import pretrained

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import jax.numpy as jnp
import numpy as np
import optax


def _median_ms(fn, reps):
  jax.block_until_ready(fn())
  times = []
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t)
  return 1e3 * float(np.median(times))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--params", type=int, default=4, help="millions of parameters (1024x1024 tensors)")
  parser.add_argument("--reps", type=int, default=100)
  args = parser.parse_args(argv)
  shapes = [(1024, 1024)] * args.params
  lopt, theta = pretrained.load_pretrained("default")
  opt = lopt.opt_fn(theta)
  key = jax.random.PRNGKey(0)
  params = [jax.random.normal(jax.random.fold_in(key, i), s) for i, s in enumerate(shapes)]
  grads = [1e-2 * jax.random.normal(jax.random.fold_in(key, 100 + i), s) for i, s in enumerate(shapes)]
  state = opt.init(params, num_steps=1000)
  for _ in range(3):
    state = opt.update(state, grads)
  layouts = [hpe.ChunkLayout(s, lopt.chunk_length) for s in shapes]
  true = jnp.asarray(True)
  # pylint: disable=protected-access
  stats = jax.jit(lambda p, g, m: [lopt._chunk_sums(l, a, b, c) for l, a, b, c in zip(layouts, p, g, m)])
  sums = stats(state.params, grads, state.momentum)
  network = jax.jit(lambda s, mo, me, it, ns: lopt._chunk_network(theta, layouts, s, mo, me, it, ns, true))
  coeffs = network(sums, state.chunk_moments, state.memory, state.iteration, state.num_steps)[0]
  def apply_all(p, m, v, g, c):
    out = [lopt._apply(theta, l, a, b, x, y, cc, None, state.iteration, true)
           for l, a, b, x, y, cc in zip(layouts, p, g, m, v, c)]
    # New p, m, v as three lists, in the order of the donated inputs (so each aliases its own).
    return tuple([o[i] for o in out] for i in range(3))

  apply = jax.jit(apply_all, donate_argnums=(0, 1, 2))
  update = jax.jit(opt.update, donate_argnums=0)
  adam = optax.adam(1e-3)

  def adam_step(p, s, g):
    u, s = adam.update(g, s, p)
    return optax.apply_updates(p, u), s

  adam_step = jax.jit(adam_step, donate_argnums=(0, 1))
  box = {"adam": ([jnp.copy(p) for p in params], adam.init(params)),
         "update": jax.tree_util.tree_map(jnp.copy, state),
         "apply": tuple([jnp.copy(x) for x in t] for t in (state.params, state.momentum, state.second_moment))}

  def run_adam():
    box["adam"] = adam_step(*box["adam"], grads)
    return box["adam"]

  def run_update():
    box["update"] = update(box["update"], grads)
    return box["update"]

  def run_apply():
    box["apply"] = apply(*box["apply"], grads, coeffs)
    return box["apply"]

  rows = [("optax adam + apply_updates", run_adam), ("Mnemosyne update", run_update),
          ("  statistics pass (sums over p, g, m)", lambda: stats(state.params, grads, state.momentum)),
          ("  per-chunk network (HPE, CAM, head)", lambda: network(
              sums, state.chunk_moments, state.memory, state.iteration, state.num_steps)),
          ("  per-coordinate pass (m, v, p)", run_apply)]
  print(f"{args.params}M parameters ({args.params} tensors of 1024x1024, "
        f"{sum(l.num_chunks for l in layouts)} chunks), {jax.device_count()} device(s)\n")
  print("| stage | ms (median) | x Adam |")
  print("|---|---:|---:|")
  adam_ms = None
  for name, fn in rows:
    ms = _median_ms(fn, args.reps)
    adam_ms = adam_ms or ms
    print(f"| {name} | {ms:.2f} | {ms / adam_ms:.2f} |")

  tokens = sum(l.num_chunks for l in layouts)
  print(f"\nShort-axis sums of the network, [{tokens}, n] float32:\n")
  print("| n | jnp.sum(x, -1), us | nn.sum_last(x), us | max relative difference |")
  print("|---:|---:|---:|---:|")
  for n in (8, 16):
    x = jax.random.normal(jax.random.fold_in(key, n), (tokens, n))
    a, b = jax.jit(lambda x: jnp.sum(x * x, -1)), jax.jit(lambda x: nn.sum_last(x * x))
    diff = float(jnp.max(jnp.abs(a(x) - b(x)) / jnp.abs(a(x))))
    if diff > 1e-5:
      raise AssertionError(f"sum_last disagrees with jnp.sum: {diff:.2e}")
    print(f"| {n} | {1e3 * _median_ms(lambda: a(x), 10 * args.reps):.1f} | "
          f"{1e3 * _median_ms(lambda: b(x), 10 * args.reps):.1f} | {diff:.1e} |")


if __name__ == "__main__":
  main()

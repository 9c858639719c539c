"""What Mechanic and its non-finite guard cost on top of a base optimizer's update.

For four 1024 x 1024 float32 tensors (``--tensors``) and a base optimizer (``--base plain``: the
shipped pretrained "plain" Mnemosyne at rate 1.0, ``mnemosyne_lopt.mnemosyne(1.0, name="plain")``;
``--base adam``: ``optax.adam(1.0)``), one process times the jitted update plus
``optax.apply_updates``, state donated, of

  * ``base``                 the base optimizer alone;
  * ``optax_mechanize``      ``optax.contrib.mechanize(base)``;
  * ``optax_apply_if_finite`` ``optax.apply_if_finite(optax.contrib.mechanize(base))``, the guard
    that skips a non-finite gradient through a ``lax.cond`` around the whole update;
  * ``mechanic``             ``mnemosyne_lopt.mechanic.mechanize(base)``, whose guard is a scalar test
    and a select in its last pass.

Rounds interleave the four (order alternating), ``--steps`` timed updates each; reported: the
median over rounds of each round's median, and its excess over ``base``.

    PYTHONPATH=. .venv/bin/python benchmarks/mechanic_guard.py --base plain
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import mnemosyne_lopt
from mnemosyne_lopt import mechanic


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--base", choices=("plain", "adam"), default="plain")
  parser.add_argument("--tensors", type=int, default=4)
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--steps", type=int, default=10)
  args = parser.parse_args()
  key = jax.random.PRNGKey(0)
  params = {f"w{i}": jax.random.normal(jax.random.fold_in(key, i), (1024, 1024)) * 0.02
            for i in range(args.tensors)}
  grads = jax.tree_util.tree_map(lambda p: p * 0.1 + 0.01, params)

  def base():
    if args.base == "adam":
      return optax.adam(1.0)
    return mnemosyne_lopt.mnemosyne(1.0, name="plain", num_steps=1000)
  optimizers = {
      "base": base(),
      "optax_mechanize": optax.contrib.mechanize(base()),
      "optax_apply_if_finite": optax.apply_if_finite(optax.contrib.mechanize(base()), 2 ** 31 - 1),
      "mechanic": mechanic.mechanize(base()),
  }
  runs = {}
  for name, tx in optimizers.items():
    def step(state, g, tx=tx):
      p, s = state
      u, s = tx.update(g, s, p)
      return optax.apply_updates(p, u), s
    # own copies: optax.contrib.mechanize's state holds the parameters it was initialised with
    state = (jax.tree_util.tree_map(jnp.copy, params),
             tx.init(jax.tree_util.tree_map(jnp.copy, params)))
    run = jax.jit(step, donate_argnums=0)
    for _ in range(2):
      state = run(state, grads)
    jax.block_until_ready(state)
    runs[name] = [run, state]
  times = {name: [] for name in optimizers}
  for r in range(args.rounds):
    for name in (list(optimizers) if r % 2 else list(optimizers)[::-1]):
      run, state = runs[name]
      ts = []
      for _ in range(args.steps):
        t = time.perf_counter()
        state = jax.block_until_ready(run(state, grads))
        ts.append(time.perf_counter() - t)
      runs[name][1] = state
      times[name].append(np.median(ts))
  n = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(params))
  print(f"base {args.base!r}, {args.tensors} tensors of 1024 x 1024 ({n:,} parameters); "
        f"median of {args.rounds} interleaved rounds of {args.steps} updates\n")
  print("| update | ms | over the base, ms |\n|---|---:|---:|")
  b = np.median(times["base"])
  for name, ts in times.items():
    print(f"| `{name}` | {np.median(ts) * 1e3:.2f} | {(np.median(ts) - b) * 1e3:+.2f} |")


if __name__ == "__main__":
  main()

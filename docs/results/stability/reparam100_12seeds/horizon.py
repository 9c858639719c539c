"""Does telling Mnemosyne its horizon matter on reparam_100 at 2e-3?  ``mnemosyne_T`` trained for
3,000 steps but told T = 3,000, 6,000 or 1,000,000 (12 seeds): blow-ups and, per seed, the first
step whose loss is above 10x the initial one (after the first 5 %).  Writes horizon.json here.

    .venv/bin/python docs/results/stability/reparam100_12seeds/horizon.py
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
LR, STEPS, SEEDS = 2e-3, 3000, 12


def run(told):
  init, loss = stability.make_problem("reparam_100", 0)
  tx = stability.make_optimizer("mnemosyne_T", told, None, {"pretrained": "plain"}, "constant", LR)

  def one(seed):
    key = jax.random.PRNGKey(seed)
    params = init(jax.random.fold_in(key, 0))

    def body(carry, k):
      p, s = carry
      value, g = jax.value_and_grad(loss)(p, k)
      u, s = tx.update(g, s, p, loss=value)
      return (optax.apply_updates(p, u), s), value
    keys = jax.random.split(jax.random.fold_in(key, 1), STEPS)
    return jax.lax.scan(body, (params, tx.init(params)), keys)[1]
  losses = np.asarray(jax.jit(jax.vmap(one))(jnp.arange(SEEDS)))
  start = STEPS // 20
  first = [int(np.argmax(l[start:] > 10 * l[0])) + start if stability.blew_up(l) else None
           for l in losses]
  return {"blow_ups": sum(f is not None for f in first), "runs": SEEDS, "first_step_above_10x": first}


def main():
  out = {"learning_rate": LR, "steps": STEPS, "told": {}}
  for told in (3000, 6000, 1_000_000):
    out["told"][str(told)] = run(told)
    print(f"told T = {told}: {out['told'][str(told)]}")
  with open(os.path.join(HERE, "horizon.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()

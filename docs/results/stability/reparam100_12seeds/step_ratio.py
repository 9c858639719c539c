"""How large Mnemosyne's step is against Adam's on reparam_100: per step and tensor, the RMS
ratio rms(Delta) / rms(A) (Delta: the step before the learning rate and weight decay; A: Adam's
m_hat / (sqrt(v_hat) + eps) on the same gradients) and the fraction of coordinates where
|Delta_i| < |A_i|, for ``mnemosyne_T`` at 2e-3 (3,000 steps, seeds 0-2), under the shipped bound
and under ``max_coordinate_ratio=1, align_with_adam=True``.  Writes step_ratio.json here.

    .venv/bin/python docs/results/stability/reparam100_12seeds/step_ratio.py
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
LR, STEPS, WD = 2e-3, 3000, 0.1
SETTINGS = {"shipped": {}, "coordinate_cap1_aligned": {"max_coordinate_ratio": 1.0, "align_with_adam": True}}


def measure(overrides):
  init, loss = stability.make_problem("reparam_100", 0)
  tx = stability.make_optimizer("mnemosyne_T", STEPS, None, overrides, "constant", LR)
  adam = optax.scale_by_adam()

  def one(seed):
    key = jax.random.PRNGKey(seed)
    params = init(jax.random.fold_in(key, 0))

    def body(carry, k):
      p, s, sa = carry
      value, g = jax.value_and_grad(loss)(p, k)
      u, s = tx.update(g, s, p, loss=value)
      a, sa = adam.update(g, sa, p)
      d = jax.tree_util.tree_map(lambda uu, pp: -uu / LR - WD * pp, u, p)   # u = -lr (Delta + wd p)
      pairs = list(zip(jax.tree_util.tree_leaves(d), jax.tree_util.tree_leaves(a)))
      ratio = jnp.stack([jnp.sqrt(jnp.mean(x * x) / (jnp.mean(y * y) + 1e-30)) for x, y in pairs])
      below = jnp.stack([jnp.mean(jnp.abs(x) < jnp.abs(y) * (1 - 1e-4)) for x, y in pairs])
      return (optax.apply_updates(p, u), s, sa), (value, ratio, below)
    keys = jax.random.split(jax.random.fold_in(key, 1), STEPS)
    return jax.lax.scan(body, (params, tx.init(params), adam.init(params)), keys)[1]
  losses, ratio, below = (np.asarray(x) for x in jax.jit(jax.vmap(one))(jnp.arange(3)))
  late = slice(STEPS // 20, None)          # after the first 5 % (the blow-up rule's window)
  return {"blew_up": [stability.blew_up(l) for l in losses],
          "rms_ratio_quantiles_10_50_90": np.quantile(ratio[:, late], [0.1, 0.5, 0.9]).tolist(),
          "fraction_below_adam_mean": float(below[:, late].mean())}


def main():
  out = {"learning_rate": LR, "steps": STEPS, "optimizer": "mnemosyne_T", "seeds": [0, 1, 2]}
  for name, overrides in SETTINGS.items():
    out[name] = measure(overrides)
    print(name, out[name])
  with open(os.path.join(HERE, "step_ratio.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()

"""Learning-rate shapes over T = ``num_steps`` updates, t = 0 .. T-1 the number of updates applied
before the one they scale (as optax schedules count):

- ``cosine(peak, T)``: peak (1 + cos(pi t / (T - 1))) / 2: peak at the first update, 0 at the last;
- ``warmup_cosine(peak, T)``: with W = ``warmup_steps(T)`` = ceil(T / 20), peak (t + 1) / W for
  t < W (linear warmup, peak at update W - 1), then peak (1 + cos(pi (t - W + 1) / (T - W))) / 2,
  0 at the last update.

Updates past T - 1 keep the last value (0).  ``peak`` may be a traced scalar.  ``mnemosyne-eval
--schedule`` and ``mnemosyne-stability --schedule`` use these, and ``mnemosyne_mechanic`` told its
horizon takes ``warmup_cosine(1.0, T)`` as its default shape.
"""

import math

import jax.numpy as jnp

WARMUP_FRACTION = 0.05


def warmup_steps(num_steps: int) -> int:
  """W, the warmup length of ``warmup_cosine``: ceil(5 % of the steps), at least 1."""
  return max(1, int(math.ceil(WARMUP_FRACTION * num_steps)))


def cosine(peak, num_steps: int):
  t_max = int(num_steps) - 1

  def schedule(count):
    frac = jnp.clip(jnp.asarray(count, jnp.float32) / max(t_max, 1), 0.0, 1.0)
    return peak * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))
  return schedule


def warmup_cosine(peak, num_steps: int):
  t_max, w = int(num_steps) - 1, warmup_steps(num_steps)

  def schedule(count):
    count = jnp.asarray(count, jnp.float32)
    frac = jnp.clip((count - (w - 1)) / max(t_max - (w - 1), 1), 0.0, 1.0)
    return peak * jnp.where(count < w - 1, (count + 1) / w, 0.5 * (1.0 + jnp.cos(jnp.pi * frac)))
  return schedule

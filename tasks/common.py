"""Pieces shared by the project's model tasks (ViT, T5, text tasks)."""

import jax
import numpy as np
import optax


class LazyDatasets:
  """``task.datasets`` built by ``_make_datasets`` on first use, so that large configurations can be
  shaped (``jax.eval_shape(task.init, key)``) on a machine without their data or checkpoints."""

  def _make_datasets(self):
    raise NotImplementedError(f"{type(self).__name__} must define _make_datasets.")

  @property
  def datasets(self):
    if getattr(self, "_datasets", None) is None:
      self._datasets = self._make_datasets()
    return self._datasets

  @datasets.setter
  def datasets(self, value):
    self._datasets = value


def train_adam(task, steps: int, learning_rate: float = 1e-3, seed: int = 0, log_every: int = 0):
  """Trains ``task`` with optax Adam; returns (params, list of per-step training losses)."""
  opt = optax.adam(learning_rate)
  params = task.init(jax.random.PRNGKey(seed))
  state = opt.init(params)

  @jax.jit
  def step(params, state, batch):
    loss, grads = jax.value_and_grad(task.loss)(params, None, batch)
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss

  losses = []
  for i in range(steps):
    params, state, loss = step(params, state, next(task.datasets.train))
    losses.append(float(loss))
    if log_every and (i + 1) % log_every == 0:
      print(f"step {i + 1}/{steps}: train loss {np.mean(losses[-log_every:]):.4f}", flush=True)
  return params, losses

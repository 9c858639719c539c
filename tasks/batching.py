"""Minibatch iterators whose position can be saved and restored.

learned_optimization draws data with ``next(datasets.train)``.  For meta-training to resume
bitwise-identically after an interruption, the position of every data iterator must be part of
the checkpoint: ``BatchIterator`` exposes it through ``get_state`` / ``set_state``.
"""

from typing import Mapping

import numpy as np


class BatchIterator:
  """Endless random minibatches (sampled with replacement across batches) of in-memory arrays.

  Args:
    arrays: name -> array, all with the same leading dimension (the examples).
    batch_size: examples per batch.
    seed: seed of the numpy PCG64 generator that picks the examples.
  """

  def __init__(self, arrays: Mapping[str, np.ndarray], batch_size: int, seed: int):
    sizes = {len(a) for a in arrays.values()}
    if len(sizes) != 1:
      raise ValueError(f"All arrays need the same number of examples, got sizes {sorted(sizes)}.")
    self._arrays = dict(arrays)
    self._n = sizes.pop()
    if self._n == 0:
      raise ValueError("Cannot draw batches from an empty set of examples.")
    self.batch_size = int(batch_size)
    self._rng = np.random.Generator(np.random.PCG64(seed))

  def __iter__(self):
    return self

  def __next__(self):
    idx = self._rng.choice(self._n, size=self.batch_size, replace=self._n < self.batch_size)
    return {k: v[idx] for k, v in self._arrays.items()}

  def get_state(self):
    """The generator's position (a plain dict, picklable)."""
    return self._rng.bit_generator.state

  def set_state(self, state) -> None:
    self._rng.bit_generator.state = state

"""An MLP classifier on scikit-learn's 8x8 handwritten digits, as a learned_optimization Task.

The data are the 1,797 real 8x8 digit images bundled with scikit-learn (``load_digits``): no
download.  Splits are deterministic (a fixed permutation with seed 0) and named as
learned_optimization names them: train (1,000 images), inner_valid (265), outer_valid (266) and
test (266).  Pixels are scaled to [0, 1].
"""

from typing import Sequence

import gin
import jax
import jax.numpy as jnp
from learned_optimization.tasks import base as tasks_base
from learned_optimization.tasks.datasets import base as datasets_base
import numpy as np

_SPLITS = (("train", 0, 1000), ("inner_valid", 1000, 1265), ("outer_valid", 1265, 1531),
           ("test", 1531, 1797))


def _digits_arrays():
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  data = load_digits()
  images = (data.images / 16.0).astype(np.float32)
  labels = data.target.astype(np.int32)
  order = np.random.RandomState(0).permutation(len(labels))
  return images[order], labels[order]


def _batches(images, labels, batch_size: int, seed: int):
  rng = np.random.RandomState(seed)
  while True:
    idx = rng.choice(len(labels), size=batch_size, replace=len(labels) < batch_size)
    yield {"image": images[idx], "label": labels[idx]}


@gin.configurable
def digits_datasets(batch_size: int = 128, seed: int = 0) -> datasets_base.Datasets:
  """learned_optimization Datasets of sklearn digits; batches {"image": [B, 8, 8], "label": [B]}."""
  images, labels = _digits_arrays()
  its = {name: _batches(images[a:b], labels[a:b], batch_size, seed + i)
         for i, (name, a, b) in enumerate(_SPLITS)}
  abstract = {"image": jax.ShapeDtypeStruct((batch_size, 8, 8), jnp.float32),
              "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                abstract_batch=abstract)


@gin.configurable
class DigitsMLP(tasks_base.Task):
  """Softmax cross-entropy of an MLP (ReLU hidden layers) on 8x8 digits, 10 classes."""

  def __init__(self, hidden_sizes: Sequence[int] = (32,), batch_size: int = 128, seed: int = 0):
    self.hidden_sizes = tuple(hidden_sizes)
    self.datasets = digits_datasets(batch_size, seed)

  def init(self, key):
    sizes = (64,) + self.hidden_sizes + (10,)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
      key, sub = jax.random.split(key)
      params[f"layer_{i}"] = {"w": jax.random.normal(sub, (a, b)) * np.sqrt(2.0 / a),
                              "b": jnp.zeros((b,))}
    return params

  def logits(self, params, images):
    x = jnp.reshape(images, (images.shape[0], -1))
    n = len(params)
    for i in range(n):
      layer = params[f"layer_{i}"]
      x = x @ layer["w"] + layer["b"]
      if i < n - 1:
        x = jax.nn.relu(x)
    return x

  def loss(self, params, key, data):
    del key
    logits = self.logits(params, data["image"])
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, data["label"][:, None], axis=1))

  def accuracy(self, params, data):
    return jnp.mean(jnp.argmax(self.logits(params, data["image"]), -1) == data["label"])

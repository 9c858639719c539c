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

from mnemosyne_lopt.tasks.batching import BatchIterator

_SPLITS = (("train", 0, 1000), ("inner_valid", 1000, 1265), ("outer_valid", 1265, 1531),
           ("test", 1531, 1797))


def _digits_arrays():
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  data = load_digits()
  images = (data.images / 16.0).astype(np.float32)
  labels = data.target.astype(np.int32)
  order = np.random.RandomState(0).permutation(len(labels))
  return images[order], labels[order]


@gin.configurable
def digits_datasets(batch_size: int = 128, seed: int = 0) -> datasets_base.Datasets:
  """learned_optimization Datasets of sklearn digits; batches {"image": [B, 8, 8], "label": [B]}."""
  images, labels = _digits_arrays()
  its = {name: BatchIterator({"image": images[a:b], "label": labels[a:b]}, batch_size, seed + i)
         for i, (name, a, b) in enumerate(_SPLITS)}
  abstract = {"image": jax.ShapeDtypeStruct((batch_size, 8, 8), jnp.float32),
              "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                abstract_batch=abstract)


ACTIVATIONS = (jax.nn.relu, jnp.tanh, jax.nn.gelu, jax.nn.elu)
ACTIVATION_NAMES = ("relu", "tanh", "gelu", "elu")


def activate(index, x):
  """ACTIVATIONS[index](x); ``index`` may be a traced integer (a task family's sample)."""
  if isinstance(index, (int, np.integer)):
    return ACTIVATIONS[index](x)
  return jax.lax.switch(index, ACTIVATIONS, x)


def sample_activation_and_init_scale(key, init_scale_range):
  """A family's per-task draw: an activation index and an init scale log-uniform in the range."""
  k1, k2 = jax.random.split(key)
  lo, hi = np.log(init_scale_range[0]), np.log(init_scale_range[1])
  return {"activation": jax.random.randint(k1, (), 0, len(ACTIVATIONS)),
          "init_scale": jnp.exp(jax.random.uniform(k2, (), minval=lo, maxval=hi))}


@gin.configurable
class DigitsMLP(tasks_base.Task):
  """Softmax cross-entropy of an MLP on 8x8 digits, 10 classes.

  Args:
    hidden_sizes: widths of the hidden layers.
    batch_size, seed: of the data iterators (ignored when ``datasets`` is given).
    activation: index into ACTIVATION_NAMES (may be a traced integer inside a task family).
    init_scale: multiplies the He-normal initial weights (may be traced).
    datasets: share the data iterators of a task family.
  """

  def __init__(self, hidden_sizes: Sequence[int] = (32,), batch_size: int = 128, seed: int = 0,
               activation=0, init_scale=1.0, datasets=None):
    self.hidden_sizes = tuple(hidden_sizes)
    self.activation = activation
    self.init_scale = init_scale
    self.datasets = datasets if datasets is not None else digits_datasets(batch_size, seed)
    self.input_size = 64

  def init(self, key):
    sizes = (self.input_size,) + self.hidden_sizes + (10,)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
      key, sub = jax.random.split(key)
      params[f"layer_{i}"] = {"w": jax.random.normal(sub, (a, b)) * (self.init_scale * np.sqrt(2.0 / a)),
                              "b": jnp.zeros((b,))}
    return params

  def _act(self, x):
    return activate(self.activation, x)

  def logits(self, params, images):
    x = jnp.reshape(images, (images.shape[0], -1))
    n = len(params)
    for i in range(n):
      layer = params[f"layer_{i}"]
      x = x @ layer["w"] + layer["b"]
      if i < n - 1:
        x = self._act(x)
    return x

  def loss(self, params, key, data):
    del key
    logits = self.logits(params, data["image"])
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, data["label"][:, None], axis=1))

  def accuracy(self, params, data):
    return jnp.mean(jnp.argmax(self.logits(params, data["image"]), -1) == data["label"])


@gin.configurable
class DigitsMLPFamily(tasks_base.TaskFamily):
  """MLPs of one shape on 8x8 digits; each task samples its activation and its init scale.

  Shapes are fixed within a family (learned_optimization vectorises the tasks of one family);
  meta-training mixes families of different shapes.  Sampled per task: the activation (uniform over
  ACTIVATION_NAMES) and the initial-weight scale (log-uniform in ``init_scale_range``).
  """

  def __init__(self, hidden_sizes: Sequence[int] = (32,), batch_size: int = 128, seed: int = 0,
               init_scale_range=(0.5, 2.0)):
    self.hidden_sizes = tuple(hidden_sizes)
    self.init_scale_range = tuple(init_scale_range)
    self.datasets = digits_datasets(batch_size, seed)
    self._name = f"DigitsMLPFamily_{'x'.join(map(str, self.hidden_sizes))}_bs{batch_size}"

  def sample(self, key):
    return sample_activation_and_init_scale(key, self.init_scale_range)

  def task_fn(self, cfg):
    return DigitsMLP(self.hidden_sizes, activation=cfg["activation"], init_scale=cfg["init_scale"],
                     datasets=self.datasets)

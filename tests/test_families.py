"""Families over architecture, batch size and data set; learned_optimization's conv family on
the offline image sets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt.tasks import common
from mnemosyne_lopt.tasks import families
from mnemosyne_lopt.tasks import image_mlp


@pytest.fixture(scope="module")
def data():
  from mnemosyne_lopt.tasks import datasets  # pylint: disable=g-import-not-at-top
  datasets.fetch(["fashion_mnist"])


def test_conv_family_shapes_and_adam_trains_it(data):
  del data
  fam = families.image_conv_family("fashion_mnist", 8, (8, 16), (2, 1), batch_size=32)
  task = fam.task_fn(fam.sample(jax.random.PRNGKey(0)))
  params = task.init(jax.random.PRNGKey(1))
  shapes = sorted(tuple(x.shape) for x in jax.tree_util.tree_leaves(params))
  # two 3x3 convs (1 -> 8 -> 16 channels) with biases, a 16 -> 10 linear head
  assert shapes == sorted([(3, 3, 1, 8), (8,), (3, 3, 8, 16), (16,), (16, 10), (10,)])
  _, losses = common.train_adam(task, 50, learning_rate=1e-2)
  # from chance (log 10 = 2.30); a global-average-pooled conv net learns slower than an MLP
  assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 0.2, losses
  with pytest.raises(ValueError, match="one stride per conv layer"):
    families.image_conv_family(hidden_sizes=(8, 8), strides=(2,))
  with pytest.raises(ValueError, match="no channel axis"):
    families.image_conv_family(dataset="digits")


def test_sampled_families_vary_architecture_batch_and_data_and_are_reproducible(data):
  del data
  fams = families.sampled_image_families(num_families=12, seed=4, image_sizes=(8,),
                                         width_range=(4, 16))
  again = families.sampled_image_families(num_families=12, seed=4, image_sizes=(8,),
                                          width_range=(4, 16))
  assert [f.name for f in fams] == [f.name for f in again]
  kinds = {isinstance(f, image_mlp.ImageMLPFamily) for f in fams}
  assert kinds == {True, False}                       # both MLP and conv families
  depths, widths, batches, sets = set(), set(), set(), set()
  evaluated = set()
  for f in fams:
    task = f.task_fn(f.sample(jax.random.PRNGKey(0)))
    shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))   # no compilation per family
    batch = next(task.datasets.train)
    batches.add(batch["label"].shape[0])
    sets.add(batch["image"].shape[1:3] if batch["image"].ndim == 4 else "digits")
    hidden = [x.shape[-1] for x in jax.tree_util.tree_leaves(shapes) if x.ndim >= 2][:-1]
    depths.add(len(hidden))
    widths.update(hidden)
    assert all(4 <= w <= 16 for w in hidden), (f.name, hidden)
    if type(f) not in evaluated:    # one family of each kind trains: a finite, positive loss
      evaluated.add(type(f))
      loss = jax.jit(task.loss)(jax.jit(task.init)(jax.random.PRNGKey(0)), None, batch)
      assert np.isfinite(float(loss)) and float(loss) > 0
  assert len(depths) >= 2 and len(widths) >= 3 and len(batches) >= 2 and len(sets) >= 2
  with pytest.raises(ValueError, match="kinds must be"):
    families.sampled_image_families(kinds=("rnn",))

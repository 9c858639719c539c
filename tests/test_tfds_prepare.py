"""``mnemosyne-data prepare-tfds``: a TFDS data dir prepared offline from the cached Fashion-MNIST,
read by ``tfds.load`` and by learned_optimization's own ``ImageMLP_FashionMnist8_Relu32``.

The reference is the cached ``fashion_mnist.npz``: the uint8 arrays decoded straight from the raw
idx files of the Debian package (``mnemosyne-data fetch``), read here with numpy only.  What
``tfds.load`` returns has passed through the re-written idx files, TFDS's own idx parser, PNG
encoding, TFRecord shards, TFDS's shuffling and TensorFlow's PNG decoder; it must be the same
70,000 (image, label) pairs.  learned_optimization's task runs in a subprocess, because TFDS reads
``$TFDS_DATA_DIR`` once, when it is first imported.  About 60-90 s on 2 busy cores (preparing
20-40 s, the subprocess 30-50 s).
"""

import hashlib
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from mnemosyne_lopt import evaluation
from mnemosyne_lopt.tasks import datasets as ds
from mnemosyne_lopt.tasks import tfds_prepare


@pytest.fixture(scope="module")
def source():
  """The cached Fashion-MNIST arrays (fetched if missing; skips if no registry answers)."""
  if not os.path.exists(ds.cache_path("fashion_mnist")):
    try:
      ds.fetch(["fashion_mnist"], verbose=False)
    except (RuntimeError, OSError) as e:
      pytest.skip(f"could not fetch fashion_mnist: {e}")
  with np.load(ds.cache_path("fashion_mnist")) as f:
    return {k: f[k] for k in f.files if k != "source"}


def _checksums_file() -> str:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return os.path.join(os.path.dirname(tfds.__file__), "url_checksums", "fashion_mnist.txt")


def _sha(path):
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def prepared(source, tmp_path_factory):
  """(TFDS data dir, seconds to prepare), prepared once for this module."""
  del source
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  registered_checksums = _sha(_checksums_file())
  start = time.time()
  paths = tfds_prepare.prepare(data_dir=data_dir, verbose=False)
  seconds = time.time() - start
  assert paths == {"fashion_mnist": os.path.join(data_dir, "fashion_mnist", "3.0.1")}
  # Nothing written into the installed tensorflow_datasets (no register_checksums there).
  assert _sha(_checksums_file()) == registered_checksums
  return data_dir, seconds


def _pairs(images, labels):
  """The sorted multiset of (image bytes, label) of a split: order-free equality of data sets."""
  images = np.asarray(images, np.uint8).reshape(len(labels), -1)
  return sorted(im.tobytes() + bytes([int(y)]) for im, y in zip(images, labels))


def test_tfds_load_returns_the_cached_fashion_mnist(source, prepared, capsys):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir, _ = prepared
  assert os.listdir(data_dir) == ["fashion_mnist"]  # downloads and extractions went to a tmp dir
  means = {}
  for split, n in (("train", 60000), ("test", 10000)):
    loaded = tfds.as_numpy(tfds.load("fashion_mnist", split=split, data_dir=data_dir,
                                     batch_size=-1, download=False))
    images, labels = loaded["image"], loaded["label"]
    assert images.shape == (n, 28, 28, 1) and images.dtype == np.uint8 and labels.shape == (n,)
    assert _pairs(images, labels) == _pairs(source[f"{split}_images"], source[f"{split}_labels"])
    means[split] = images.mean(dtype=np.float64) / 255.0
    # The same mean pixel computed from the raw idx bytes of the cache (and DATA.md's 0.2860).
    np.testing.assert_allclose(means[split],
                               source[f"{split}_images"].mean(dtype=np.float64) / 255.0, rtol=1e-12)
  np.testing.assert_allclose(means["train"], 0.2860, atol=5e-5)
  # Idempotent: a second call finds the prepared folder and says so, fast.
  start = time.time()
  tfds_prepare.prepare(data_dir=data_dir)
  assert time.time() - start < 1.0
  assert "fashion_mnist: already prepared in" in capsys.readouterr().out


def test_missing_source_names_the_fetch_command(tmp_path):
  with pytest.raises(FileNotFoundError, match="run `mnemosyne-data fetch --only fashion_mnist"):
    tfds_prepare.prepare(data_dir=str(tmp_path / "tfds"), cache_dir=str(tmp_path / "empty"),
                         verbose=False)
  assert not os.path.exists(tmp_path / "tfds")
  with pytest.raises(ValueError, match="fashion_mnist only"):
    tfds_prepare.prepare(["mnist"], data_dir=str(tmp_path / "tfds"), verbose=False)


def test_version_and_readiness_follow_tfds_data_dir(prepared, tmp_path, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  assert str(tfds.builder_cls("fashion_mnist").VERSION) == tfds_prepare.TFDS_VERSIONS["fashion_mnist"]
  data_dir, _ = prepared
  lo_task = "lo_ImageMLP_FashionMnist8_Relu32"
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))   # empty: not prepared
  assert evaluation.lo_tfds_ready() is None
  assert lo_task not in [s.name for s in evaluation.suite("in_distribution")]
  monkeypatch.setenv("TFDS_DATA_DIR", data_dir)
  assert evaluation.lo_tfds_ready() == data_dir
  specs = {s.name: s for s in evaluation.suite("in_distribution")}
  assert specs[lo_task].runner == "lo"


_LO_SCRIPT = """
import json, sys
from mnemosyne_lopt import evaluation
spec = {s.name: s for s in evaluation.suite("in_distribution")}["lo_ImageMLP_FashionMnist8_Relu32"]
out = evaluation.run_one(evaluation.make_optimizer("adam"), 1e-3, spec, 0, int(sys.argv[1]))
print("RESULT " + json.dumps(out))
"""


def test_learned_optimization_image_mlp_trains_offline(prepared):
  """learned_optimization's ImageMLP_FashionMnist8_Relu32 (its own tfds.load, resize and MLP),
  from the in_distribution suite, trained with optax Adam(1e-3) through learned_optimization's
  OptaxOptimizer and mnemosyne-eval's "lo" runner (eval_training's steps), as mnemosyne-eval runs it."""
  data_dir, _ = prepared
  steps = 40
  env = dict(os.environ, TFDS_DATA_DIR=data_dir)
  proc = subprocess.run([sys.executable, "-c", _LO_SCRIPT, str(steps)], env=env,
                        capture_output=True, text=True, timeout=300, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  assert proc.returncode == 0 and lines, proc.stderr[-3000:]
  out = json.loads(lines[-1][len("RESULT "):])
  assert len(out["train_curve"]) == steps and out["eval_steps"][-1] == steps
  # Ten balanced classes and a freshly initialised MLP: cross-entropy near ln 10 at step 0.
  for curve in ("valid_curve", "test_curve"):
    assert abs(out[curve][0] - math.log(10)) < 0.1, out[curve][0]
  # Adam learns: validation and test loss fall well below chance within 40 steps.
  assert out["final_valid"] < out["valid_curve"][0] - 0.25, out["valid_curve"]
  assert out["final_test"] < out["test_curve"][0] - 0.25, out["test_curve"]
  assert all(np.isfinite(out["train_curve"]))

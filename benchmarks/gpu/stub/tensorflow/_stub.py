"""Shared machinery of the device-only tensorflow / tensorflow_datasets stand-ins.

These packages exist ONLY so that learned_optimization 0.0.1 and flax.metrics.tensorboard can be
IMPORTED on the GPU machine, which has no TensorFlow (benchmarks/gpu/run_on_device.sh puts this
folder last on PYTHONPATH; nothing in mnemosyne_lopt or the benchmarks refers to it).  They define
the names those modules evaluate at import time with the package versions seen here; nothing in
them computes anything, so no measured figure can pass through them:

* every defined placeholder raises RuntimeError when called or instantiated;
* any other (non-dunder) name gives such a placeholder too, and says so on stderr
  (``[tf-stub] placeholder for NAME``), so that a slightly different flax / tensorboard on the
  device still imports, and the log shows what was looked up;
* dunder names that are not defined raise AttributeError (``hasattr`` probes see "absent").

With TF_STUB_TRACE=1 every look-up of an undefined name is printed, dunders included.
"""

import os
import sys

TRACE = os.environ.get("TF_STUB_TRACE") == "1"


def _raise(qualname):
  raise RuntimeError(f"{qualname} was used, but this is the device-only tensorflow stub "
                     "(benchmarks/gpu/stub): run this code where TensorFlow is installed.")


class _PlaceholderMeta(type):
  """Classes of this metaclass stand for a TF name: usable as a base class or an annotation,
  their attributes are placeholders too, and calling one raises."""

  def __call__(cls, *args, **kwargs):
    del args, kwargs
    _raise(cls.stub_qualname)

  def __getattr__(cls, attr):
    if attr.startswith("__") and attr.endswith("__"):
      raise AttributeError(attr)
    return placeholder(f"{cls.stub_qualname}.{attr}", note=False)


def placeholder(qualname, note=True):
  """A class standing for ``qualname`` that raises when called (see _PlaceholderMeta)."""
  if note:
    print(f"[tf-stub] placeholder for {qualname}", file=sys.stderr, flush=True)
  module, _, name = qualname.rpartition(".")
  return _PlaceholderMeta(name, (), {"__module__": module, "stub_qualname": qualname})


def module_getattr(module_name):
  """A module-level __getattr__: placeholders for names, AttributeError for dunders."""

  def __getattr__(attr):  # pylint: disable=invalid-name
    if TRACE:
      print(f"[tf-stub] look-up {module_name}.{attr}", file=sys.stderr, flush=True)
    if attr.startswith("__") and attr.endswith("__"):
      raise AttributeError(f"module {module_name!r} (device-only stub, benchmarks/gpu/stub) has "
                           f"no attribute {attr!r}")
    return placeholder(f"{module_name}.{attr}")

  return __getattr__

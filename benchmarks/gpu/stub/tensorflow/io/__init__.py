"""Device-only stand-in for tensorflow.io: flax.io does `from tensorflow.io import gfile`."""

from tensorflow import _stub
from tensorflow.io import gfile

__getattr__ = _stub.module_getattr("tensorflow.io")

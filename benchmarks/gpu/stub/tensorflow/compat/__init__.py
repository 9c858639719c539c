"""Device-only stand-in for tensorflow.compat (see ../_stub.py)."""

from tensorflow import _stub
from tensorflow.compat import v2

__getattr__ = _stub.module_getattr("tensorflow.compat")

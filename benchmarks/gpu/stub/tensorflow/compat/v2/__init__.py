"""Device-only stand-in for tensorflow.compat.v2: the same names as the stub tensorflow."""

from tensorflow import _stub

IS_DEVICE_STUB = True


def enable_v2_behavior():
  """Called at import by learned_optimization.summary; a no-op here."""


__getattr__ = _stub.module_getattr("tensorflow.compat.v2")

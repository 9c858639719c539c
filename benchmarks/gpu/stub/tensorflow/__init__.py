"""Device-only stand-in for tensorflow: the names evaluated at import time (see _stub.py)."""

import types as _types

from tensorflow import _stub

IS_DEVICE_STUB = True


def enable_v2_behavior():
  """Called at import by learned_optimization.summary (as tensorflow.compat.v2); a no-op here."""


def make_tensor_proto(values, dtype=None, shape=None):
  """Only the call tensorboard.plugins.hparams.summary makes at import, ``make_tensor_proto(0)``,
  whose TYPE it needs: the int32 scalar 0 as TensorBoard's own copy of TensorProto.  Any other
  call raises."""
  if dtype is not None or shape is not None or type(values) is not int or values != 0:  # pylint: disable=unidiomatic-typecheck
    _stub._raise("tensorflow.make_tensor_proto")  # pylint: disable=protected-access
  from tensorboard.compat.proto import tensor_pb2, types_pb2  # pylint: disable=g-import-not-at-top
  return tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32, int_val=[0])


# flax.metrics.tensorboard annotates an argument with tf.summary.SummaryWriter.
summary = _types.SimpleNamespace(
    SummaryWriter=_stub.placeholder("tensorflow.summary.SummaryWriter", note=False))
# tensorboard.plugins.hparams._keras subclasses tf.keras.callbacks.Callback.
keras = _types.SimpleNamespace(callbacks=_types.SimpleNamespace(
    Callback=_stub.placeholder("tensorflow.keras.callbacks.Callback", note=False)))
# flax.io: `from tensorflow import errors` when it finds a tensorflow package.
errors = _types.SimpleNamespace(NotFoundError=FileNotFoundError)

from tensorflow import io  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position
from tensorflow import compat  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

__getattr__ = _stub.module_getattr("tensorflow")

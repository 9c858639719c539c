"""Device-only stand-in for tensorflow.io.gfile (flax.io imports it when it finds a tensorflow
package): every name is a placeholder that raises when called (see ../_stub.py)."""

from tensorflow import _stub

for _name in ("GFile", "listdir", "isdir", "exists", "makedirs", "glob", "remove", "rename",
              "rmtree", "copy", "stat", "walk", "mkdir"):
  globals()[_name] = _stub.placeholder(f"tensorflow.io.gfile.{_name}", note=False)
del _name

__getattr__ = _stub.module_getattr("tensorflow.io.gfile")

"""Device-only stand-in for tensorflow_datasets: learned_optimization.tasks.datasets.base imports
it at module level; the benchmarks never load a TFDS data set (see ../tensorflow/_stub.py)."""

from tensorflow import _stub

IS_DEVICE_STUB = True

__getattr__ = _stub.module_getattr("tensorflow_datasets")

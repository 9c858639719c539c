"""Gives back the JAX names that learned_optimization 0.0.1 still uses.

learned_optimization 0.0.1 (the only release on PyPI) was written against JAX 0.2/0.3.  Current
JAX removed a handful of top-level aliases it calls at import time or in its outer trainers (and
NumPy 2 removed ``numpy.product``, which its parametric tasks call).  This
module restores exactly those names, pointing each at its modern equivalent, and is applied once
when ``mnemosyne_lopt`` is imported, before any learned_optimization module is loaded.  It never
replaces a name that JAX still defines.

It also defers ``learned_optimization.summary`` (``defer_summary_import``): that module imports
TensorFlow at import time, and every ``LearnedOptimizer`` imports it, but only meta-training and
learned_optimization's training loops call it.
"""

import importlib
import importlib.util
import sys

import jax
import jax.tree_util as _tree_util

# Each entry: (owner object, attribute name, modern replacement).
_TREE_ALIASES = {
    "tree_map": _tree_util.tree_map,
    # tree_multimap was merged into tree_map (which takes several trees) in JAX 0.3.
    "tree_multimap": _tree_util.tree_map,
    "tree_leaves": _tree_util.tree_leaves,
    "tree_flatten": _tree_util.tree_flatten,
    "tree_unflatten": _tree_util.tree_unflatten,
    "tree_structure": _tree_util.tree_structure,
}

_applied = False


def _set_if_missing(owner, name, value, restored):
  # `hasattr` on current jax raises AttributeError with a deprecation message for removed names.
  try:
    getattr(owner, name)
    return
  except AttributeError:
    pass
  setattr(owner, name, value)
  restored.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{name}")


def apply() -> list:
  """Restores the removed names; returns the dotted names it added (empty on a second call)."""
  global _applied
  restored = []
  if _applied:
    return restored
  for name, fn in _TREE_ALIASES.items():
    _set_if_missing(jax, name, fn, restored)
  # Used by learned_optimization's optimizers/test_utils and TruncatedPES to describe shapes.
  _set_if_missing(jax, "ShapedArray", jax.core.ShapedArray, restored)
  # Used only in type annotations (learned_optimization.training, outer trainers).
  jax_lib = importlib.import_module("jax.lib")
  xla_client = getattr(jax_lib, "xla_client", None)
  if xla_client is None:
    class _XlaClientShim:  # pylint: disable=too-few-public-methods
      """Stands in for the removed jax.lib.xla_client module (only `.Device` is read)."""
      __name__ = "jax.lib.xla_client"
    xla_client = _XlaClientShim()
    jax_lib.xla_client = xla_client
    restored.append("jax.lib.xla_client")
  _set_if_missing(xla_client, "Device", jax.Device, restored)
  # NumPy 2 removed numpy.product; learned_optimization's parametric tasks (parametric_utils'
  # sampled initialisers, used by ParametricImageConv) still call it.
  import numpy  # pylint: disable=g-import-not-at-top
  _set_if_missing(numpy, "product", numpy.prod, restored)
  defer_summary_import()
  _applied = True
  return restored


def defer_summary_import() -> bool:
  """Registers ``learned_optimization.summary`` as a lazily executed module; True if it did.

  The module object is the real one (``importlib.util.LazyLoader``): its code runs at its first
  attribute access, so the optax and ``opt_fn`` paths, which never touch it, do not import
  TensorFlow (``import mnemosyne_lopt`` 18.2 -> 3.4 s on a loaded core,
  ``benchmarks/startup.py``), while meta-training and learned_optimization's loops load it on
  their first summary call.  Nothing is done if it is already imported or cannot be found.
  """
  name = "learned_optimization.summary"
  if name in sys.modules:
    return False
  spec = importlib.util.find_spec(name)
  if spec is None or spec.loader is None:
    return False
  spec.loader = importlib.util.LazyLoader(spec.loader)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  setattr(sys.modules["learned_optimization"], "summary", module)
  return True

"""Test configuration: float32 everywhere and the compat layer before learned_optimization."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Compilation is most of the suite's time.  XLA:CPU with LLVM optimisation level 0 and its classic
# (non-MLIR) fusion emitters compiles the optimizer's update 3-7x faster; the programs compute the
# same operations, and every comparison in the suite is between runs under the same flags or
# against an independent computation with a tolerance.  Set MNEMOSYNE_TEST_DEFAULT_XLA=1 to run
# the suite with XLA's default flags instead.  Set before JAX starts; subprocesses inherit it.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
_flags = os.environ.get("XLA_FLAGS", "")
if os.environ.get("MNEMOSYNE_TEST_DEFAULT_XLA") != "1" and TEST_XLA_FLAGS not in _flags:
  os.environ["XLA_FLAGS"] = f"{_flags} {TEST_XLA_FLAGS}".strip()

import mnemosyne_lopt  # noqa: E402,F401  pylint: disable=wrong-import-position

import tempfile  # noqa: E402  pylint: disable=wrong-import-position,g-bad-import-order

import jax  # noqa: E402  pylint: disable=wrong-import-position

# A persistent compilation cache shared by the test processes (and the subprocesses some tests
# start): identical XLA programs compiled again by a test (a resumed meta-training run, say) load
# from disk instead of compiling.
_CACHE = os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                               os.path.join(tempfile.gettempdir(), "mnemosyne_lopt_test_xla_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
jax.config.update("jax_persistent_cache_min_entry_size_bytes",
                  int(os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]))

"""Test configuration: float32 everywhere and the compat layer before learned_optimization."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

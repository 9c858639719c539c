"""Test configuration: float32 everywhere and the compat layer before learned_optimization."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import mnemosyne_lopt  # noqa: E402,F401  pylint: disable=wrong-import-position

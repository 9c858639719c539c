"""gin configuration files shipped with mnemosyne_lopt (installed as ``mnemosyne_lopt.gin_configs``)."""

import os

CONFIG_DIR = os.path.dirname(os.path.abspath(__file__))


def path(name: str) -> str:
  """Absolute path of a shipped gin file, e.g. ``path("mnemosyne.gin")``."""
  full = os.path.join(CONFIG_DIR, name)
  if not os.path.exists(full):
    available = sorted(f for f in os.listdir(CONFIG_DIR) if f.endswith(".gin"))
    raise FileNotFoundError(f"No gin config named {name!r} in {CONFIG_DIR}; available: {available}.")
  return full

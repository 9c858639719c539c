"""Pretrained Mnemosyne meta-parameters shipped with the package.

Each folder under ``mnemosyne_lopt/pretrained/`` holds ``optimizer.json`` (the ``MnemosyneLOpt``
arguments), ``theta.msgpack`` (flax-serialised meta-parameters), the gin recipe and the exact command
and seed that produced them, and the meta-training curve.  ``ALIASES`` names a folder by another
name: "default", what ``mnemosyne()`` and ``load_pretrained()`` load, is "orthogonal".
"""

import json
import os

import flax
import jax
import numpy as np

from mnemosyne_lopt.optimizer import MnemosyneLOpt

PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")
ALIASES = {"default": "orthogonal"}


def shipped_folders() -> list:
  """The folders of ``pretrained/`` that hold meta-parameters (no alias)."""
  if not os.path.isdir(PRETRAINED_DIR):
    return []
  return sorted(d for d in os.listdir(PRETRAINED_DIR)
                if os.path.exists(os.path.join(PRETRAINED_DIR, d, "theta.msgpack")))


def available() -> list:
  """Every name ``load_pretrained`` takes: the shipped folders and their aliases."""
  folders = shipped_folders()
  return sorted(folders + [a for a, target in ALIASES.items() if target in folders])


def resolve(name: str) -> str:
  """The folder name of the pretrained optimizer ``name`` ("default" -> "orthogonal")."""
  return ALIASES.get(name, name)


def load_pretrained(name: str = "default"):
  """(lopt, theta): the shipped Mnemosyne ``name``, independent of any gin configuration."""
  folder = os.path.join(PRETRAINED_DIR, resolve(name))
  if not os.path.exists(os.path.join(folder, "theta.msgpack")):
    raise FileNotFoundError(f"No pretrained Mnemosyne named {name!r}; available: {available()}.")
  with open(os.path.join(folder, "optimizer.json")) as f:
    config = json.load(f)
  lopt = MnemosyneLOpt(**config)
  path = os.path.join(folder, "theta.msgpack")
  with open(path, "rb") as f:
    theta = read_theta(lopt, f.read(), path)
  return lopt, theta


def read_theta(lopt, data: bytes, source: str):
  """The meta-parameters of the learned optimizer ``lopt`` from flax msgpack ``data``.

  The structure to read into comes from ``jax.eval_shape(lopt.init, key)``: shapes only, no random
  draw computed (calling ``lopt.init`` compiled and ran each initialiser's draw: 12 s of the first
  ``mnemosyne()`` in a process).  Every leaf's shape is checked against it; ``source`` names the
  data in the error.
  """
  template = jax.eval_shape(lopt.init, jax.random.PRNGKey(0))
  theta = flax.serialization.from_bytes(template, data)
  want = jax.tree_util.tree_map(lambda x: tuple(x.shape), template)
  got = jax.tree_util.tree_map(lambda x: tuple(np.shape(x)), theta)
  if want != got:
    raise ValueError(f"{source} holds meta-parameters of shapes {got}, but {type(lopt).__name__} as "
                     f"configured needs {want}; load it with the optimizer configuration that made it.")
  return theta


def export(train_log_dir: str, name: str, lopt: MnemosyneLOpt, files=(), best: bool = True) -> str:
  """Copies a run's meta-parameters (its best held-out ones by default) into ``pretrained/<name>/``."""
  import shutil  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt.outer_trainers import meta_training  # pylint: disable=g-import-not-at-top
  theta = meta_training.load_theta(train_log_dir, lopt, best=best)
  folder = os.path.join(PRETRAINED_DIR, name)
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "theta.msgpack"), "wb") as f:
    f.write(flax.serialization.to_bytes(theta))
  with open(os.path.join(folder, "optimizer.json"), "w") as f:
    json.dump(lopt.config, f, indent=1, sort_keys=True)
  for path in files:
    shutil.copy(path, folder)
  return folder

"""Mnemosyne learned optimizer (Jain, Choromanski et al., NeurIPS 2023) for learned_optimization.

Importing this package first restores the JAX names learned_optimization 0.0.1 needs
(``mnemosyne_lopt.compat``), so learned_optimization modules can be imported after it.
"""

from mnemosyne_lopt import compat as _compat

_compat.apply()

# pylint: disable=g-import-not-at-top,wrong-import-position
from mnemosyne_lopt.cam import CAMState, cam_init, cam_readout, cam_step, cam_update
from mnemosyne_lopt.optimizer import MnemosyneLOpt, MnemosyneState
from mnemosyne_lopt.pretrained import load_pretrained
from mnemosyne_lopt import optax_adapter as _optax_adapter
from mnemosyne_lopt import pretrained as _pretrained_module
from mnemosyne_lopt.optax_adapter import MnemosyneOptaxState, to_optax


class _CallablePretrainedModule(type(_pretrained_module)):
  """``mnemosyne_lopt.pretrained`` is both the module (``available()``, ``load_pretrained``) and
  ``mnemosyne_lopt.pretrained(num_steps, name="default")``, the shipped optimizer as optax."""

  def __call__(self, num_steps, name="default"):
    return _optax_adapter.pretrained(num_steps, name)


_pretrained_module.__class__ = _CallablePretrainedModule
pretrained = _pretrained_module


def load_theta(train_log_dir, learned_opt=None, best=False):
  """Meta-parameters written by ``mnemosyne-meta-train`` to ``train_log_dir`` (the latest, or with
  ``best=True`` those of its best held-out evaluation); see ``meta_training.load_theta``."""
  from mnemosyne_lopt.outer_trainers import meta_training  # pylint: disable=g-import-not-at-top
  return meta_training.load_theta(train_log_dir, learned_opt, best=best)

__all__ = ["MnemosyneLOpt", "MnemosyneState", "load_pretrained", "load_theta", "CAMState",
           "to_optax", "pretrained", "MnemosyneOptaxState",
           "cam_init", "cam_update", "cam_readout", "cam_step"]
__version__ = "0.1.0"

"""Mnemosyne learned optimizer (Jain, Choromanski et al., NeurIPS 2023) for learned_optimization.

The public names, in one place:

* optax (functions returning transformations, as optax's own):
  ``mnemosyne(learning_rate=None (3e-3 for the default theta), weight_decay=0.1, num_steps=None, name="default")``,
  ``scale_by_mnemosyne(theta=None, name="default", num_steps=None)``,
  ``mnemosyne_mechanic(schedule=None, weight_decay=0.1, num_steps=None, name="default")`` (the
  step length learned while training by Mechanic, no learning rate to set),
  ``mnemosyne_with_adamw_harness(...)`` and ``adamw_harness_labels(params)``,
  ``to_optax(lopt, theta, num_steps)`` for any learned optimizer;
* learned_optimization: ``MnemosyneLOpt`` (a ``LearnedOptimizer``), its state ``MnemosyneState``;
* meta-parameters: ``load_pretrained(name)`` -> (lopt, theta), ``load_theta(train_log_dir)``;
  ``mnemosyne_lopt.pretrained.available()`` lists the shipped ones;
* the CAM recurrence: ``CAMState``, ``cam_init``, ``cam_update``, ``cam_readout``, ``cam_step``.

Importing this package first keeps TensorFlow's and learned_optimization's start-up banners out of
the output (``mnemosyne_lopt.quiet``) and restores the JAX names learned_optimization 0.0.1 needs
(``mnemosyne_lopt.compat``), so learned_optimization modules can be imported after it.
"""

from mnemosyne_lopt import quiet as _quiet
from mnemosyne_lopt import compat as _compat

_quiet.apply()
_compat.apply()

# pylint: disable=g-import-not-at-top,wrong-import-position
from mnemosyne_lopt.cam import CAMState, cam_init, cam_readout, cam_step, cam_update
from mnemosyne_lopt.optimizer import MnemosyneLOpt, MnemosyneState
from mnemosyne_lopt.pretrained import load_pretrained
from mnemosyne_lopt.optax_adapter import (MnemosyneOptaxState, adamw_harness_labels, mnemosyne,
                                          mnemosyne_mechanic, mnemosyne_with_adamw_harness,
                                          scale_by_mnemosyne, to_optax)


def load_theta(train_log_dir, learned_opt=None, best=False):
  """Meta-parameters written by ``mnemosyne-meta-train`` to ``train_log_dir`` (the latest, or with
  ``best=True`` those of its best held-out evaluation); see ``meta_training.load_theta``."""
  from mnemosyne_lopt.outer_trainers import meta_training  # pylint: disable=g-import-not-at-top
  return meta_training.load_theta(train_log_dir, learned_opt, best=best)

__all__ = ["MnemosyneLOpt", "MnemosyneState", "load_pretrained", "load_theta", "CAMState",
           "mnemosyne", "mnemosyne_mechanic", "scale_by_mnemosyne", "mnemosyne_with_adamw_harness",
           "adamw_harness_labels", "to_optax", "MnemosyneOptaxState",
           "cam_init", "cam_update", "cam_readout", "cam_step"]
__version__ = "0.2.0"

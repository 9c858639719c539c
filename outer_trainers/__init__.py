"""Meta-training of Mnemosyne on learned_optimization's outer trainers.

Installed as ``mnemosyne_lopt.outer_trainers``.
"""

import mnemosyne_lopt  # noqa: F401  (compat layer before learned_optimization)
from mnemosyne_lopt.outer_trainers.meta_training import (CheckpointError, CurriculumLogUniformSchedule,
                                                    evaluate_against_adam, load_theta,
                                                    make_meta_learner, meta_train)
from mnemosyne_lopt.outer_trainers.pes import make_gradient_learner, make_truncated_pes

__all__ = ["make_truncated_pes", "make_gradient_learner", "make_meta_learner", "meta_train",
           "load_theta", "evaluate_against_adam", "CurriculumLogUniformSchedule", "CheckpointError"]

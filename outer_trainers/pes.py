"""Builders for learned_optimization's truncated PES estimator and its GradientLearner.

These wire Mnemosyne (or any ``LearnedOptimizer``) into the framework's own machinery; nothing here
re-implements an estimator.
"""

import gin
import optax
from learned_optimization.learned_optimizers import base as lopt_base
from learned_optimization.optimizers import base as opt_base
from learned_optimization.outer_trainers import gradient_learner
from learned_optimization.outer_trainers import truncated_pes
from learned_optimization.outer_trainers import truncation_schedule
from learned_optimization.tasks import base as tasks_base


@gin.configurable
def make_truncated_pes(task_family: tasks_base.TaskFamily,
                       learned_opt: lopt_base.LearnedOptimizer,
                       num_tasks: int = 8,
                       unroll_length: int = 100,
                       trunc_length: int = 10,
                       std: float = 0.01,
                       steps_per_jit: int = 10) -> truncated_pes.TruncatedPES:
  """learned_optimization's TruncatedPES over ``task_family`` with inner runs of ``unroll_length``.

  PES (Vicol et al., 2021) estimates d(mean truncated loss)/d(theta) with antithetic Gaussian
  perturbations of scale ``std`` whose accumulated noise removes the truncation bias.
  """
  if trunc_length % steps_per_jit:
    raise ValueError(f"trunc_length ({trunc_length}) must be a multiple of steps_per_jit "
                     f"({steps_per_jit}).")
  schedule = truncation_schedule.ConstantTruncationSchedule(unroll_length)
  return truncated_pes.TruncatedPES(task_family, learned_opt, schedule, num_tasks=num_tasks,
                                    trunc_length=trunc_length, std=std, steps_per_jit=steps_per_jit)


def outer_optimizer(learning_rate: float, max_grad_norm: float) -> opt_base.Optimizer:
  """Outer optax Adam on meta-gradients clipped to global norm ``max_grad_norm``."""
  return opt_base.OptaxOptimizer(
      optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate)))


@gin.configurable
def make_gradient_learner(learned_opt: lopt_base.LearnedOptimizer,
                          learning_rate: float = 3e-4,
                          max_grad_norm: float = 1.0) -> gradient_learner.GradientLearner:
  """GradientLearner with outer Adam on gradients clipped to global norm ``max_grad_norm``."""
  return gradient_learner.GradientLearner(learned_opt, outer_optimizer(learning_rate, max_grad_norm))

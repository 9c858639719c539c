"""Builders for learned_optimization's truncated PES estimator and its GradientLearner.

These wire Mnemosyne (or any ``LearnedOptimizer``) into the framework's own machinery; nothing here
re-implements an estimator.
"""

import gin
import jax
import numpy as np
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


class _FiniteCheck:
  """A gradient estimator that records whether its last raw estimate was finite."""

  def __init__(self, estimator):
    self._estimator = estimator
    self.finite = True

  def __getattr__(self, name):
    return getattr(self._estimator, name)

  def compute_gradient_estimate(self, *args, **kwargs):
    out, metrics = self._estimator.compute_gradient_estimate(*args, **kwargs)
    self.finite = all(bool(np.all(np.isfinite(g))) for g in jax.tree_util.tree_leaves(out.grad))
    return out, metrics


class SkippingGradientLearner(gradient_learner.SingleMachineGradientLearner):
  """learned_optimization's SingleMachineGradientLearner that skips non-finite meta-gradients.

  The framework replaces NaN/Inf entries of the averaged estimate by 0 and applies the rest, a
  silently corrupted step.  Here, when any estimator's raw estimate holds a NaN or Inf, the outer
  update is dropped: theta and the outer optimizer's state stay as they were, while the inner
  unroll states move on (so the next step draws new truncations).  ``update`` returns the
  framework's (state, mean loss, metrics) with ``metrics["skipped_meta_update"]`` = 1.0 or 0.0;
  with finite estimates it is the framework's update, bit for bit.
  """

  def update(self, state, key, with_metrics=False):
    checked = [_FiniteCheck(e) for e in self.gradient_estimators]
    estimators, self.gradient_estimators = self.gradient_estimators, checked
    try:
      new_state, loss, metrics = super().update(state, key, with_metrics=with_metrics)
    finally:
      self.gradient_estimators = estimators
    finite = all(c.finite for c in checked)
    if not finite:
      new_state = new_state.replace(gradient_learner_state=state.gradient_learner_state)
    metrics = dict(metrics or {})
    metrics["skipped_meta_update"] = 0.0 if finite else 1.0
    return new_state, loss, metrics

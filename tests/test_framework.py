"""learned_optimization 0.0.1 on current JAX through the compat layer, and Mnemosyne inside it."""

import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import adafac_mlp_lopt
from learned_optimization.optimizers import base as opt_base
from learned_optimization.outer_trainers import gradient_learner
from learned_optimization.outer_trainers import test_utils as outer_test_utils
from learned_optimization.outer_trainers import truncated_pes
from learned_optimization.outer_trainers import truncation_schedule
from learned_optimization.tasks import quadratics
import numpy as np

from mnemosyne_lopt import compat
from mnemosyne_lopt import outer_trainers
from mnemosyne_lopt.optimizer import MnemosyneLOpt

import pes_helpers



def test_compat_restores_the_removed_names():
  compat.apply()
  tree = {"a": jnp.ones(2), "b": [jnp.zeros(3)]}
  assert jax.tree_map(lambda x: x + 1, tree)["a"][0] == 2
  assert jax.tree_multimap(lambda x, y: x + y, tree, tree)["a"][0] == 2
  assert len(jax.tree_leaves(tree)) == 2
  leaves, treedef = jax.tree_flatten(tree)
  assert jax.tree_unflatten(treedef, leaves)["b"][0].shape == (3,)
  assert jax.tree_structure(tree) == treedef
  assert jax.ShapedArray((2,), jnp.float32).shape == (2,)
  assert jax.lib.xla_client.Device is jax.Device
  assert compat.apply() == []          # idempotent


def _pes(lopt, num_tasks=4):
  return truncated_pes.TruncatedPES(
      quadratics.FixedDimQuadraticFamily(10), lopt,
      truncation_schedule.ConstantTruncationSchedule(10), num_tasks=num_tasks, steps_per_jit=5)


def test_framework_pes_smoketest_with_adafac_mlp_lopt():
  # learned_optimization's own smoke test of its TruncatedPES, with its own AdafacMLPLOpt.
  outer_test_utils.trainer_smoketest(_pes(adafac_mlp_lopt.AdafacMLPLOpt()))


def test_framework_gradient_learner_with_adafac_mlp_lopt():
  lopt = adafac_mlp_lopt.AdafacMLPLOpt()
  learner = gradient_learner.GradientLearner(lopt, opt_base.Adam(1e-3))
  key = jax.random.PRNGKey(0)
  state = learner.init(key)
  theta = learner.get_state_for_worker(state).theta
  estimator = _pes(lopt)
  unroll = estimator.init_worker_state(learner.get_state_for_worker(state), key)
  out, _ = estimator.compute_gradient_estimate(learner.get_state_for_worker(state), key, unroll,
                                               with_summary=False)
  agg = gradient_learner.AggregatedGradient(theta_grads=out.grad, theta_model_state=None,
                                            mean_loss=out.mean_loss)
  new_state, _ = learner.update(state, [agg])
  new_theta = learner.get_state_for_worker(new_state).theta
  moved = [float(jnp.max(jnp.abs(a - b))) for a, b in
           zip(jax.tree_util.tree_leaves(new_theta), jax.tree_util.tree_leaves(theta))]
  assert max(moved) > 0 and all(np.isfinite(moved))


def test_framework_pes_smoketest_with_mnemosyne():
  """learned_optimization's own smoke test of its TruncatedPES with Mnemosyne, then two more
  truncations of the same estimator (the second uses PES's accumulated noise): the meta-gradient
  is finite and non-zero, and one GradientLearner update keeps the meta-parameters finite."""
  lopt = MnemosyneLOpt(chunk_length=4)
  trainer = _pes(lopt, num_tasks=2)
  outer_test_utils.trainer_smoketest(trainer)
  key = jax.random.PRNGKey(0)
  learner = outer_trainers.make_gradient_learner(lopt)
  state = learner.init(key)
  # The smoke test's worker weights and summaries: its compiled estimate is reused.
  worker = gradient_learner.WorkerWeights(learner.get_lopt_params(state), None,
                                          gradient_learner.OuterState(1))
  out = pes_helpers.finite_nonzero_estimate(trainer, worker, with_summary=True)
  assert np.isfinite(float(out.mean_loss))
  agg = gradient_learner.AggregatedGradient(theta_grads=out.grad, theta_model_state=None,
                                            mean_loss=out.mean_loss)
  new_state, _ = learner.update(state, [agg])
  new_theta = learner.get_lopt_params(new_state)
  assert all(bool(jnp.all(jnp.isfinite(t))) for t in jax.tree_util.tree_leaves(new_theta))
  assert any(bool(jnp.any(a != b)) for a, b in zip(jax.tree_util.tree_leaves(new_theta),
                                                   jax.tree_util.tree_leaves(
                                                       learner.get_lopt_params(state))))

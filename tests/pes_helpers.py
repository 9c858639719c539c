"""A shared check for the tests: a learned optimizer's TruncatedPES meta-gradient on
learned_optimization's quadratic family is finite and non-zero."""

import jax
import jax.numpy as jnp
from learned_optimization.tasks import quadratics

from mnemosyne_lopt import outer_trainers


def finite_nonzero_pes_gradient(lopt, num_tasks, unroll_length, trunc_length):
  """Two truncations of TruncatedPES (the second uses PES's accumulated noise) on
  FixedDimQuadraticFamily(10); asserts the meta-gradient is finite and non-zero.

  Returns (learner, its initial state, the second estimate).
  """
  estimator = outer_trainers.make_truncated_pes(quadratics.FixedDimQuadraticFamily(10), lopt,
                                                num_tasks=num_tasks, unroll_length=unroll_length,
                                                trunc_length=trunc_length, steps_per_jit=5)
  learner = outer_trainers.make_gradient_learner(lopt)
  state = learner.init(jax.random.PRNGKey(0))
  out = finite_nonzero_estimate(estimator, learner.get_state_for_worker(state))
  return learner, state, out


def finite_nonzero_estimate(estimator, worker, with_summary=False):
  """Two truncations of ``estimator`` for ``worker`` (the second uses PES's accumulated noise);
  asserts the second meta-gradient is finite and non-zero and returns its estimate."""
  unroll = estimator.init_worker_state(worker, key=jax.random.PRNGKey(0))
  for i in range(2):
    out, _ = estimator.compute_gradient_estimate(worker, jax.random.PRNGKey(i + 1), unroll,
                                                 with_summary=with_summary)
    unroll = out.unroll_state
  grads = jax.tree_util.tree_leaves(out.grad)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
  assert sum(float(jnp.sum(jnp.abs(g))) for g in grads) > 0
  return out

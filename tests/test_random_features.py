"""Random features: E[phi(x)^T phi(y)] = exp(x^T y), positivity, bounded features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt import random_features as rf


@pytest.mark.parametrize("orthogonal", [False, True])
def test_softmax_kernel_is_unbiased(orthogonal):
  n = 4
  kx, ky, kw = jax.random.split(jax.random.PRNGKey(0), 3)
  x = rf.bounded(jax.random.normal(kx, (n,)), 0.8)
  y = rf.bounded(jax.random.normal(ky, (n,)), 0.8)
  exact = float(jnp.exp(x @ y))
  # Many independent projections, each with r = 2n features: sample mean and standard error.
  def estimate(key):
    w = rf.draw_projection(key, 2 * n, n, orthogonal=orthogonal)
    return rf.hyperbolic_features(x, w) @ rf.hyperbolic_features(y, w)
  samples = np.asarray(jax.vmap(estimate)(jax.random.split(kw, 20000)))
  mean, stderr = samples.mean(), samples.std() / np.sqrt(samples.size)
  assert abs(mean - exact) < 4 * stderr, (mean, exact, stderr)
  # and the test has power: a biased estimator (exp(x.y) * 1.05) would be far outside.
  assert 0.05 * exact > 8 * stderr


def test_features_positive_and_bounded():
  n, r, radius = 8, 64, 1.0
  w = rf.draw_projection(jax.random.PRNGKey(1), r, n)
  z = rf.bounded(10.0 * jax.random.normal(jax.random.PRNGKey(2), (1000, n)), radius)
  np.testing.assert_allclose(jnp.linalg.norm(z, axis=-1), radius, rtol=1e-5)
  phi = rf.hyperbolic_features(z, w)
  assert phi.shape == (1000, r)
  assert bool(jnp.all(phi > 0))
  bound = jnp.exp(jnp.linalg.norm(w, axis=-1) * radius - radius ** 2 / 2) / jnp.sqrt(r)
  assert bool(jnp.all(phi <= jnp.concatenate([bound, bound])[None] * (1 + 1e-5)))


def test_orthogonal_rows_are_orthogonal_within_blocks():
  w = rf.draw_projection(jax.random.PRNGKey(3), 16, 8, orthogonal=True)
  unit = w / jnp.linalg.norm(w, axis=-1, keepdims=True)
  np.testing.assert_allclose(unit @ unit.T, np.eye(8), atol=1e-5)


def test_odd_feature_count_is_a_clear_error():
  with pytest.raises(ValueError, match="even"):
    rf.draw_projection(jax.random.PRNGKey(0), 7, 4)


def test_log_shift_cancels_in_ratio():
  w = rf.draw_projection(jax.random.PRNGKey(4), 8, 4)
  q, k = jnp.ones((4,)) * 0.3, jnp.arange(4.0) / 10
  a = rf.hyperbolic_features(q, w) * 1.0
  b = rf.hyperbolic_features(q, w, log_shift=3.0)
  np.testing.assert_allclose(b, a * np.exp(-3.0), rtol=1e-5)
  del k

"""CAM against independent computations: closed form, exact softmax attention, long horizons."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt import cam
from mnemosyne_lopt import random_features as rf


def _inputs(key, steps, n=4, d=3, radius=1.0):
  kq, kk, kv = jax.random.split(key, 3)
  q = rf.bounded(jax.random.normal(kq, (steps, n)), radius)
  k = rf.bounded(jax.random.normal(kk, (steps, n)), radius)
  v = jax.random.normal(kv, (steps, d))
  return q, k, v


def _run_cam(phi_q, phi_k, v, tau):
  state = cam.cam_init((), phi_k.shape[-1], v.shape[-1])
  def body(state, x):
    return cam.cam_step(state, x[1], x[0], x[2], tau)
  return jax.lax.scan(body, state, (phi_q, phi_k, v))


@pytest.mark.parametrize("tau", [0.0, 0.05])
def test_recurrence_equals_closed_form_sum(tau):
  steps, r = 30, 16
  q, k, v = _inputs(jax.random.PRNGKey(0), steps)
  w = rf.draw_projection(jax.random.PRNGKey(1), r, 4)
  phi_q, phi_k = rf.hyperbolic_features(q, w), rf.hyperbolic_features(k, w)
  final, outs = _run_cam(phi_q, phi_k, v, tau)
  # Closed form in float64 numpy: N_t = sum_{s<=t} e^{-tau(t-s)} phi(k_s) v_s^T.
  pk, pq, vv = (np.asarray(a, np.float64) for a in (phi_k, phi_q, v))
  for t in range(steps):
    weights = np.exp(-tau * (t - np.arange(t + 1)))
    memory = np.einsum("s,sr,sd->rd", weights, pk[:t + 1], vv[:t + 1])
    normaliser = weights @ pk[:t + 1]
    np.testing.assert_allclose(outs[t], memory.T @ pq[t] / (pq[t] @ normaliser), rtol=2e-5, atol=1e-6)
  np.testing.assert_allclose(final.memory, memory, rtol=2e-5, atol=2e-5 * np.abs(memory).max())
  np.testing.assert_allclose(final.normaliser, normaliser, rtol=2e-5)


def _exact_attention(q, k, v, tau):
  q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
  out = []
  for t in range(len(q)):
    logits = k[:t + 1] @ q[t] - tau * (t - np.arange(t + 1))
    a = np.exp(logits - logits.max())
    out.append(a @ v[:t + 1] / a.sum())
  return np.stack(out)


@pytest.mark.parametrize("tau", [0.0, 0.1])
def test_readout_approaches_exact_softmax_attention_as_r_grows(tau):
  seeds, steps = 40, 40
  inputs = [_inputs(jax.random.PRNGKey(100 + s), steps) for s in range(seeds)]
  exact = np.stack([_exact_attention(q, k, v, tau) for q, k, v in inputs])
  q, k, v = (jnp.stack(x) for x in zip(*inputs))
  errors = {}
  for r in (16, 256):
    @jax.jit
    @jax.vmap
    def cam_outputs(key, q, k, v, r=r):
      w = rf.draw_projection(key, r, 4, orthogonal=False)
      return _run_cam(rf.hyperbolic_features(q, w), rf.hyperbolic_features(k, w), v, tau)[1]
    keys = jax.random.split(jax.random.PRNGKey(r), seeds)
    outs = np.asarray(cam_outputs(keys, q, k, v))
    errors[r] = float(np.mean(np.linalg.norm(outs - exact, axis=(1, 2)) /
                              np.linalg.norm(exact, axis=(1, 2))))
  # Monte-Carlo error falls like r^{-1/2} (4x for 16x the features; measured ~2.7x on these
  # inputs, whose exact outputs are small averages of random values).
  assert errors[256] < 0.6 * errors[16], errors
  assert errors[256] < 0.2, errors


def test_denominator_positive_and_readout_is_convex_combination():
  q, k, v = _inputs(jax.random.PRNGKey(7), 200)
  w = rf.draw_projection(jax.random.PRNGKey(8), 32, 4)
  phi_q, phi_k = rf.hyperbolic_features(q, w), rf.hyperbolic_features(k, w)
  final, outs = _run_cam(phi_q, phi_k, v, 0.01)
  assert bool(jnp.all(phi_q @ final.normaliser > 0))
  # positive weights: every read-out lies within the range of the values seen.
  assert bool(jnp.all(outs <= v.max(0) + 1e-5)) and bool(jnp.all(outs >= v.min(0) - 1e-5))


def test_empty_memory_reads_zero():
  state = cam.cam_init((3,), 8, 2)
  out = cam.cam_readout(state, jnp.ones((3, 8)))
  np.testing.assert_array_equal(out, np.zeros((3, 2)))


@pytest.mark.parametrize("tau", [0.0, 0.01])
def test_stable_over_100k_steps_in_float32(tau):
  steps, n, r, radius = 100_000, 8, 16, 1.0
  w = rf.draw_projection(jax.random.PRNGKey(0), r, n)

  def body(state, key):
    kk, kq, kv = jax.random.split(key, 3)
    k = rf.bounded(jax.random.normal(kk, (n,)), radius)
    q = rf.bounded(jax.random.normal(kq, (n,)), radius)
    v = jnp.tanh(jax.random.normal(kv, (4,)))
    state, out = cam.cam_step(state, rf.hyperbolic_features(k, w), rf.hyperbolic_features(q, w), v, tau)
    return state, jnp.max(jnp.abs(out))

  final, max_out = jax.jit(lambda keys: jax.lax.scan(body, cam.cam_init((), r, 4), keys))(
      jax.random.split(jax.random.PRNGKey(1), steps))
  assert final.memory.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(final.memory))) and bool(jnp.all(jnp.isfinite(final.normaliser)))
  assert bool(jnp.all(jnp.isfinite(max_out))) and float(jnp.max(max_out)) <= 1.0 + 1e-4
  phi_max = float(jnp.max(jnp.exp(jnp.linalg.norm(w, axis=-1) * radius - radius ** 2 / 2))) / np.sqrt(r)
  bound = phi_max * (steps if tau == 0 else 1.0 / (1.0 - np.exp(-tau)))
  assert float(jnp.max(final.normaliser)) <= bound * (1 + 1e-3)
  assert float(jnp.min(final.normaliser)) > 0

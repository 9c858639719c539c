"""LSTM learned optimizers: preprocessing closed form, one step against a numpy LSTM, the
framework's smoke test, a finite non-zero PES meta-gradient, and gin configuration."""

import gin
import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import test_utils as lopt_test_utils
import numpy as np
import pytest

from mnemosyne_lopt import lstm

import pes_helpers


def test_preprocessing_closed_form():
  p = 10.0
  g = np.array([3.0, -0.5, 1e-3, -2e-5, 1e-6, -1e-7, 0.0], np.float32)
  out = np.asarray(lstm.preprocess_gradient(jnp.asarray(g), p))
  for gi, (a, b) in zip(g, out):
    if abs(gi) >= np.exp(-p):          # e^-10 = 4.54e-5
      np.testing.assert_allclose([a, b], [np.log(abs(gi)) / p, np.sign(gi)], rtol=1e-5)
    else:
      np.testing.assert_allclose([a, b], [-1.0, np.exp(p) * gi], rtol=1e-5, atol=1e-7)
  assert out.shape == (7, 2)


def _np_sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _np_lstm_step(layers, out, x, hs, cs):
  """Independent float64 LSTM stack: gates (i, f, g, o) from [x, h] @ [Wx; Wh] + b."""
  new_h, new_c = [], []
  for l, layer in enumerate(layers):
    w = np.concatenate([layer["wx"], layer["wh"]], axis=0).astype(np.float64)
    z = np.concatenate([x, hs[l]], axis=1) @ w + layer["b"]
    H = hs[l].shape[1]
    i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
    c = _np_sigmoid(f) * cs[l] + _np_sigmoid(i) * np.tanh(g)
    h = _np_sigmoid(o) * np.tanh(c)
    new_h.append(h)
    new_c.append(c)
    x = h
  return x @ out["w"] + out["b"], new_h, new_c


@pytest.mark.parametrize("cls", [lstm.LSTMLOpt, lstm.FeatureLSTMLOpt])
def test_two_steps_equal_a_numpy_lstm(cls):
  lopt = cls(hidden_size=5, num_layers=2, step_mult=0.1, out_init_scale=0.5)
  theta = jax.tree_util.tree_map(np.asarray, lopt.init(jax.random.PRNGKey(1)))
  params = {"w": jnp.asarray(np.random.RandomState(0).randn(3, 2), jnp.float32)}
  opt = lopt.opt_fn(theta)
  state = opt.init(params, num_steps=10)
  grads = [np.random.RandomState(s).randn(3, 2).astype(np.float32) * 10.0 ** -s for s in (1, 6)]
  p = np.asarray(params["w"], np.float64).ravel()
  hs = [np.zeros((6, 5)) for _ in range(2)]
  cs = [np.zeros((6, 5)) for _ in range(2)]
  m = {b: np.zeros(6) for b in lopt.momentum_decays} if cls is lstm.FeatureLSTMLOpt else {}
  v = np.zeros(6)
  for t, g in enumerate(grads):
    state = opt.update(state, {"w": jnp.asarray(g)}, loss=0.0)
    gf = g.ravel().astype(np.float64)
    big = np.abs(gf) >= np.exp(-10.0)
    x = np.stack([np.where(big, np.log(np.abs(gf) + 1e-300) / 10.0, -1.0),
                  np.where(big, np.sign(gf), np.exp(10.0) * gf)], 1)
    if m:
      v = 0.999 * v + 0.001 * gf ** 2
      rs = 1.0 / (np.sqrt(v / (1 - 0.999 ** (t + 1))) + 1e-8)
      feats = []
      for b in lopt.momentum_decays:
        m[b] = b * m[b] + (1 - b) * gf
        feats.append(np.clip(m[b] / (1 - b ** (t + 1)) * rs, -10, 10))
      feats += [np.clip(gf * rs, -10, 10), np.full(6, t / 10.0)]
      x = np.concatenate([x, np.stack(feats, 1)], 1)
    out, hs, cs = _np_lstm_step(theta["lstm"], theta["out"], x, hs, cs)
    p = p + 0.1 * out[:, 0]
    np.testing.assert_allclose(np.asarray(state.params["w"]).ravel(), p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(state.hidden["w"])[1, 0].reshape(6, 5), hs[1], atol=1e-5)
  assert lopt.state_floats_per_param() == (20 if cls is lstm.LSTMLOpt else 25)
  assert cls().state_floats_per_param() == (80 if cls is lstm.LSTMLOpt else 85)
  assert state.hidden["w"].shape == (2, 2, 3, 2, 5)


@pytest.mark.parametrize("cls", [lstm.LSTMLOpt, lstm.FeatureLSTMLOpt])
def test_framework_smoketest(cls):
  lopt_test_utils.smoketest_learned_optimizer(cls(hidden_size=4))


@pytest.mark.parametrize("cls", [lstm.LSTMLOpt, lstm.FeatureLSTMLOpt])
def test_pes_meta_gradient_is_finite_and_nonzero(cls):
  pes_helpers.finite_nonzero_pes_gradient(cls(hidden_size=4), num_tasks=2, unroll_length=10,
                                          trunc_length=5)


def test_gin_configurable():
  with gin.unlock_config():
    gin.parse_config(["FeatureLSTMLOpt.momentum_decays = (0.9, 0.99)", "LSTMLOpt.hidden_size = 7"])
  try:
    assert lstm.LSTMLOpt().hidden_size == 7
    f = lstm.FeatureLSTMLOpt()
    assert f.momentum_decays == (0.9, 0.99) and f.num_inputs == 6
  finally:
    gin.clear_config()

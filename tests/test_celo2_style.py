"""The Celo2-style baseline (mnemosyne_lopt/celo2_style.py): its features and step against numpy,
learned_optimization's contracts, scale invariance, the learning rate, non-finite gradients."""

import dataclasses

import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import test_utils
import numpy as np
import pytest

from mnemosyne_lopt.celo2_style import Celo2StyleLOpt, NUM_FEATURES

import pes_helpers

B = (0.9, 0.99, 0.999)
B2, EPS = 0.999, 1e-8


def _params():
  rng = np.random.default_rng(0)
  return {"w": jnp.asarray(rng.standard_normal((6, 5)), jnp.float32),
          "conv": jnp.asarray(rng.standard_normal((2, 3, 4)), jnp.float32),
          "b": jnp.asarray(rng.standard_normal((5,)), jnp.float32)}


def _grads(step, scale=1.0):
  rng = np.random.default_rng(100 + step)
  return jax.tree_util.tree_map(
      lambda p: jnp.asarray(scale * rng.standard_normal(p.shape) * (1 + np.arange(p.shape[-1])),
                            jnp.float32), _params())


def _np_features(p, g, state, t):
  """numpy float64 features (module docstring) of one tensor at step t; state (ms, v, r, c)."""
  ms, v, r, c = state
  ms = [b * m + (1 - b) * g for m, b in zip(ms, B)]
  v = B2 * v + (1 - B2) * g * g
  m_hat = [m / (1 - b ** t) for m, b in zip(ms, B)]
  v_hat = v / (1 - B2 ** t)
  rs = 1 / (np.sqrt(v_hat) + EPS)
  if g.ndim >= 2:
    r = B2 * r + (1 - B2) * np.mean(g * g, axis=-1)
    c = B2 * c + (1 - B2) * np.mean(g * g, axis=-2)
    v_fac = r[..., :, None] * c[..., None, :] / np.mean(r, axis=-1)[..., None, None] / (1 - B2 ** t)
    rf = 1 / (np.sqrt(v_fac) + EPS)
  else:
    rf = rs
  raw = [g, p] + m_hat + [v_hat] + [m * rs for m in m_hat] + [g * rs, rs, g * rf, m_hat[0] * rf]
  x = np.stack([f / np.sqrt(np.mean(f * f) + 1e-12) for f in raw], axis=-1)
  return x, (ms, v, r, c)


def _selecting_theta(lopt, k):
  """A theta whose MLP outputs exactly feature k: relu(x_k) - relu(-x_k), passed through."""
  theta = jax.tree_util.tree_map(jnp.zeros_like, lopt.init(jax.random.PRNGKey(0)))
  w1 = np.zeros((NUM_FEATURES, 8), np.float32)
  w1[k, 0], w1[k, 1] = 1.0, -1.0
  w2 = np.zeros((8, 8), np.float32)
  w2[0, 0] = w2[1, 1] = 1.0
  w3 = np.zeros((8, 1), np.float32)
  w3[0, 0], w3[1, 0] = 1.0, -1.0
  layers = [dict(l) for l in theta["layers"]]
  for layer, w in zip(layers, (w1, w2, w3)):
    layer["w"] = jnp.asarray(w)
  return {"layers": layers}


def test_features_and_step_equal_numpy_over_several_steps():
  lopt = Celo2StyleLOpt(learning_rate=2e-3)
  k = 9     # g rs: the selecting theta makes the rule RMSprop-like, step normalised per matrix
  opt = lopt.opt_fn(_selecting_theta(lopt, k))
  params = _params()
  state = opt.init(params)
  update = jax.jit(opt.update)
  p64 = {n: np.asarray(x, np.float64) for n, x in params.items()}
  st64 = {n: ([np.zeros(x.shape)] * 3, np.zeros(x.shape),
              np.zeros(x.shape[:-1]) if x.ndim >= 2 else None,
              np.zeros(x.shape[:-2] + x.shape[-1:]) if x.ndim >= 2 else None)
          for n, x in p64.items()}
  for t in range(1, 6):
    g = _grads(t)
    feats = {n: lopt.features(jnp.asarray(opt.get_params(state)[n]), g[n],
                              state.moments[n], state.rows[n], state.cols[n], state.iteration)[0]
             for n in params}
    state = update(state, g)
    for n in params:
      x, st64[n] = _np_features(p64[n], np.asarray(g[n], np.float64), st64[n], t)
      np.testing.assert_allclose(feats[n], x, rtol=2e-4, atol=2e-5, err_msg=f"{n} step {t}")
      np.testing.assert_allclose(np.sqrt(np.mean(x ** 2, axis=tuple(range(x.ndim - 1)))), 1.0,
                                 rtol=1e-6)
      d = x[..., k]
      axes = (d.ndim - 2, d.ndim - 1) if d.ndim >= 2 else None
      u = d / np.sqrt(np.mean(d * d, axis=axes, keepdims=True) + 1e-9)
      p64[n] = p64[n] - 2e-3 * u
  for n in params:
    np.testing.assert_allclose(opt.get_params(state)[n], p64[n], rtol=1e-5, atol=1e-6)


def test_every_matrix_step_has_rms_equal_to_the_learning_rate():
  lopt = Celo2StyleLOpt(learning_rate=3e-3)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(3)))
  params = _params()
  state = opt.update(opt.init(params), _grads(1))
  for n, p in params.items():
    step = np.asarray(opt.get_params(state)[n], np.float64) - np.asarray(p, np.float64)
    axes = (p.ndim - 2, p.ndim - 1) if p.ndim >= 2 else None
    np.testing.assert_allclose(np.sqrt(np.mean(step ** 2, axis=axes)), 3e-3, rtol=1e-3)


def test_loss_scale_invariance_and_learning_rate_scaling():
  lopt, lopt2 = Celo2StyleLOpt(1e-3), Celo2StyleLOpt(2e-3)
  theta = lopt.init(jax.random.PRNGKey(5))
  params = _params()

  def run(lo, scale, steps):
    opt = lo.opt_fn(theta)
    state = opt.init(params)
    for t in range(1, steps + 1):
      state = opt.update(state, _grads(t, scale))
    return opt.get_params(state)

  base, scaled = run(lopt, 1.0, 4), run(lopt, 100.0, 4)
  for n in params:        # every feature is a ratio or normalised per tensor
    np.testing.assert_allclose(scaled[n], base[n], rtol=1e-5, atol=1e-6)
  one, double = run(lopt, 1.0, 1), run(lopt2, 1.0, 1)
  for n, p in params.items():   # the rule does not see the learning rate: 2x rate, 2x step
    np.testing.assert_allclose(np.asarray(double[n], np.float64) - np.asarray(p, np.float64),
                               2 * (np.asarray(one[n], np.float64) - np.asarray(p, np.float64)),
                               rtol=1e-4, atol=3e-7)   # float32 rounding of p (|p| < 2)


def test_weight_decay_is_decoupled_and_scaled_by_the_learning_rate():
  theta = Celo2StyleLOpt().init(jax.random.PRNGKey(7))
  params = _params()
  plain = Celo2StyleLOpt(3e-3).opt_fn(theta)
  decayed = Celo2StyleLOpt(3e-3, weight_decay=0.1).opt_fn(theta)
  a = plain.get_params(plain.update(plain.init(params), _grads(1)))
  b = decayed.get_params(decayed.update(decayed.init(params), _grads(1)))
  for n, p in params.items():   # p <- p - lr (u + wd p): the decay adds -lr wd p, nothing else
    np.testing.assert_allclose(np.asarray(b[n], np.float64) - np.asarray(a[n], np.float64),
                               -3e-3 * 0.1 * np.asarray(p, np.float64), rtol=1e-3, atol=2e-7)
  with pytest.raises(ValueError, match="weight_decay"):
    Celo2StyleLOpt(weight_decay=-0.1)


def test_coordinate_bound_clips_the_step_to_adams_direction_times_c():
  """max_coordinate_ratio c: u_i clipped to [-c |A_i|, c |A_i|], A = m_hat_0 rs, over 4 steps
  against numpy (selecting theta: d = the g rf feature, not proportional to A)."""
  c, lr, k = 0.8, 2e-3, 11
  lopt = Celo2StyleLOpt(learning_rate=lr, max_coordinate_ratio=c)
  opt = lopt.opt_fn(_selecting_theta(lopt, k))
  params = _params()
  state = opt.init(params)
  p64 = {n: np.asarray(x, np.float64) for n, x in params.items()}
  st64 = {n: ([np.zeros(x.shape)] * 3, np.zeros(x.shape),
              np.zeros(x.shape[:-1]) if x.ndim >= 2 else None,
              np.zeros(x.shape[:-2] + x.shape[-1:]) if x.ndim >= 2 else None)
          for n, x in p64.items()}
  clipped = 0
  for t in range(1, 5):
    g = _grads(t)
    state = opt.update(state, g)
    for n in params:
      x, st64[n] = _np_features(p64[n], np.asarray(g[n], np.float64), st64[n], t)
      ms, v = st64[n][0], st64[n][1]
      a = ms[0] / (1 - B[0] ** t) / (np.sqrt(v / (1 - B2 ** t)) + EPS)
      d = x[..., k]
      axes = (d.ndim - 2, d.ndim - 1) if d.ndim >= 2 else None
      u = d / np.sqrt(np.mean(d * d, axis=axes, keepdims=True) + 1e-9)
      clipped += int(np.sum(np.abs(u) > c * np.abs(a)))
      p64[n] = p64[n] - lr * np.clip(u, -c * np.abs(a), c * np.abs(a))
      np.testing.assert_allclose(opt.get_params(state)[n], p64[n], rtol=1e-5, atol=1e-6,
                                 err_msg=f"{n} step {t}")
  assert clipped > 10      # the bound acted on many coordinates, not on none
  with pytest.raises(ValueError, match="max_coordinate_ratio"):
    Celo2StyleLOpt(max_coordinate_ratio=0.0)


def test_schedule_sets_each_steps_rate():
  lopt = Celo2StyleLOpt(learning_rate=lambda count: 1e-3 * (count + 1.0))
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(6)))
  state = opt.init({"b": jnp.zeros((7,))})
  for t in range(3):
    before = np.asarray(opt.get_params(state)["b"])
    state = opt.update(state, {"b": jnp.arange(1.0, 8.0) * (t + 1)})
    moved = np.asarray(opt.get_params(state)["b"]) - before
    np.testing.assert_allclose(np.sqrt(np.mean(moved ** 2)), 1e-3 * (t + 1), rtol=1e-3)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradient_skips_the_update(bad):
  lopt = Celo2StyleLOpt()
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(1)))
  state = opt.update(opt.init(_params()), _grads(1))
  g = _grads(2)
  g["conv"] = g["conv"].at[1, 2, 3].set(bad)
  skipped = opt.update(state, g)
  for a, b in zip(jax.tree_util.tree_leaves((skipped.params, skipped.moments, skipped.rows)),
                  jax.tree_util.tree_leaves((state.params, state.moments, state.rows))):
    np.testing.assert_array_equal(a, b)
  assert int(skipped.iteration) == 1 and int(skipped.skipped_updates) == 1
  assert int(opt.update(skipped, _grads(2)).iteration) == 2


def test_learned_optimization_contracts_and_pes_gradient():
  test_utils.smoketest_learned_optimizer(Celo2StyleLOpt())
  pes_helpers.finite_nonzero_pes_gradient(Celo2StyleLOpt(), num_tasks=2, unroll_length=10,
                                          trunc_length=5)
  with pytest.raises(ValueError, match="three decays"):
    Celo2StyleLOpt(momentum_decays=(0.9,))


def test_mnemosyne_eval_runs_it_scheduled_and_tuned():
  from mnemosyne_lopt import evaluation  # pylint: disable=g-import-not-at-top
  spec = evaluation.suite("smoke")[0]
  scheduled = evaluation.make_optimizer("celo2_style:untrained", schedule="cosine")
  assert scheduled.has_learning_rate and "cosine" in scheduled.source
  assert np.isfinite(evaluation.run_one(scheduled, scheduled.hyper, spec, 0, 10)["final_test"])
  tuned = evaluation.make_optimizer("celo2_style_tuned:untrained")
  assert tuned.grid == pytest.approx([1e-3 * 10.0 ** e for e in evaluation.GRID_EXPONENTS])
  res = evaluation.run_tuned(dataclasses.replace(tuned, grid=[1e-3, 1e-2]), spec, 1, 10)
  at = {p["lr"]: p for p in res["grid"]}
  assert res["chosen_lr"] == min(at, key=lambda lr: at[lr]["selection_loss"])
  assert all(np.isfinite(p["mean_final_test"]) for p in at.values())
  decayed = evaluation.make_optimizer("celo2_style_wd:untrained@2e-3")
  assert np.isfinite(evaluation.run_one(decayed, decayed.hyper, spec, 0, 10)["final_test"])
  lopt, _, _ = evaluation._load_learned("celo2_style_wd", "untrained")  # pylint: disable=protected-access
  assert (lopt.weight_decay, evaluation._at_learning_rate("celo2_style_wd", lopt, 2e-3).config) == (  # pylint: disable=protected-access
      0.1, dict(lopt.config, learning_rate=2e-3))
  bounded, _, _ = evaluation._load_learned("celo2_style_bound", "untrained")  # pylint: disable=protected-access
  assert (bounded.max_coordinate_ratio, bounded.weight_decay) == (2.0, 0.0)

"""The orthogonalised step (mnemosyne_lopt.orthogonalize, MnemosyneLOpt(orthogonalize=True))
against closed forms: Newton-Schulz acts on the singular values alone, through its polynomial."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt import evaluation
from mnemosyne_lopt import orthogonalize
from mnemosyne_lopt.optimizer import MnemosyneLOpt


def _phi_iterated(s, steps=orthogonalize.NS_STEPS):
  a, b, c = orthogonalize.NS_COEFFICIENTS
  for _ in range(steps):
    s = a * s + b * s ** 3 + c * s ** 5
  return s


@pytest.mark.parametrize("rows,cols", [(24, 10), (10, 24), (16, 16), (8, 64)])
def test_newton_schulz_is_its_polynomial_on_the_singular_values(rows, cols):
  """X = U diag(sigma) V^T gives X_K = U diag(phi^K(sigma / ||X||_F)) V^T (float64 closed form),
  and every singular value above 1.5e-3 of ||X||_F ends in [0.67, 1.21]."""
  rng = np.random.default_rng(rows * 100 + cols)
  k = min(rows, cols)
  u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
  v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
  sigma = np.logspace(0, -3.5, k)                  # once normalised, some below 1.5e-3
  x = (u * sigma) @ v.T
  ratio = sigma / np.linalg.norm(sigma)
  final = _phi_iterated(ratio)
  got = np.asarray(orthogonalize.newton_schulz(jnp.asarray(x, jnp.float32)), np.float64)
  np.testing.assert_allclose(got, (u * final) @ v.T, atol=2e-5)
  assert np.all((final[ratio >= 1.5e-3] >= 0.67) & (final[ratio >= 1.5e-3] <= 1.21))
  assert np.any(ratio < 1.5e-3) and np.all(final[ratio < 1.5e-3] < 0.67)


def _ill_conditioned(rows, cols, seed):
  rng = np.random.default_rng(seed)
  k = min(rows, cols)
  u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
  v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
  sigma = np.logspace(0, -3.5, k)
  return u, sigma, v


@pytest.mark.parametrize("rows,cols", [(12, 96), (96, 12), (16, 16), (20, 24)])
def test_gram_and_direct_forms_are_the_same_polynomial(rows, cols):
  """In float64 both forms give U diag(phi^K(sigma / ||X||_F)) V^T to rounding; in float32 the
  Gram form (runs of 3 steps, then 2) stays at the direct form's rounding; newton_schulz takes the
  Gram form exactly when the long side exceeds 1.5x the short one."""
  u, sigma, v = _ill_conditioned(rows, cols, rows * 1000 + cols)
  x = (u * sigma) @ v.T
  want = (u * _phi_iterated(sigma / np.linalg.norm(sigma))) @ v.T
  with jax.enable_x64(True):
    for form in (orthogonalize._newton_schulz_direct, orthogonalize._newton_schulz_gram):
      np.testing.assert_allclose(np.asarray(form(jnp.asarray(x, jnp.float64))), want, atol=1e-11)
  x32 = jnp.asarray(x, jnp.float32)
  err = {form: np.abs(np.asarray(form(x32), np.float64) - want).max()
         for form in (orthogonalize._newton_schulz_direct, orthogonalize._newton_schulz_gram)}
  assert err[orthogonalize._newton_schulz_gram] <= 3 * err[orthogonalize._newton_schulz_direct] + 2e-6, err
  gram = 2 * max(rows, cols) > 3 * min(rows, cols)
  chosen = orthogonalize._newton_schulz_gram if gram else orthogonalize._newton_schulz_direct
  np.testing.assert_array_equal(np.asarray(orthogonalize.newton_schulz(x32)), np.asarray(chosen(x32)))


def test_orthogonalize_like_keeps_the_rms_and_leaves_vectors_alone():
  rng = np.random.default_rng(0)
  conv = rng.standard_normal((3, 3, 4, 8)).astype(np.float32)
  out = np.asarray(orthogonalize.orthogonalize_like(conv))
  np.testing.assert_allclose(np.sqrt(np.mean(out ** 2)), np.sqrt(np.mean(conv ** 2)), rtol=1e-5)
  flat = np.asarray(orthogonalize.newton_schulz(conv.reshape(-1, 8)))   # seen as [h w c_in, c_out]
  np.testing.assert_allclose(out.reshape(-1, 8) / np.sqrt(np.mean(out ** 2)),
                             flat / np.sqrt(np.mean(flat ** 2)), rtol=1e-5, atol=1e-6)
  for vector in (rng.standard_normal(7), rng.standard_normal((1, 7)), rng.standard_normal((7, 1))):
    np.testing.assert_array_equal(np.asarray(orthogonalize.orthogonalize_like(vector)),
                                  vector.astype(np.float32))
  np.testing.assert_array_equal(np.asarray(orthogonalize.orthogonalize_like(jnp.zeros((5, 4)))), 0.0)


def _dot_count(fn, *args):
  """How many dot_general equations the traced ``fn`` runs (inside vmaps counted once)."""
  return str(jax.make_jaxpr(fn)(*args)).count("dot_general")


def test_many_is_each_orthogonalised_alone_with_one_iteration_per_small_shape():
  """orthogonalize_like_many equals orthogonalize_like tensor by tensor (vectors untouched, tall
  matrices batched with wide ones of the transposed shape, a conv kernel with a matrix of its
  [h w c_in, c_out] shape, large matrices and shapes seen once alone); the three small shapes
  seen more than once cost one iteration each: the dot products of one matrix per shape, not of
  all 9 matrices."""
  keys = jax.random.split(jax.random.PRNGKey(7), 10)
  shapes = [(8, 8), (8, 8), (8, 8), (12, 40), (40, 12), (3, 3, 4, 8), (36, 8), (16,),
            (5, 7), (64, 48)]
  ds = [jax.random.normal(k, s) * (i + 1) for i, (k, s) in enumerate(zip(keys, shapes))]
  ds[1] = jnp.zeros((8, 8))                                   # a zero step stays zero
  got = jax.jit(lambda xs: orthogonalize.orthogonalize_like_many(xs, batch_max_size=1024))(ds)
  for d, g in zip(ds, got):
    assert g.shape == d.shape
    np.testing.assert_allclose(np.asarray(g), np.asarray(orthogonalize.orthogonalize_like(d)),
                               rtol=2e-5, atol=2e-6 * float(jnp.max(jnp.abs(d)) + 1e-30))
  np.testing.assert_array_equal(np.asarray(got[7]), np.asarray(ds[7]))
  np.testing.assert_array_equal(np.asarray(got[1]), 0.0)
  alone = _dot_count(lambda xs: [orthogonalize.orthogonalize_like(x) for x in xs], ds)
  many = _dot_count(lambda xs: orthogonalize.orthogonalize_like_many(xs, batch_max_size=1024), ds)
  one = [_dot_count(orthogonalize.orthogonalize_like, d) for d in ds]   # 15 direct, 18 Gram form
  assert alone == sum(one) and many == one[0] + one[3] + one[5] + one[8] + one[9], (alone, many)
  assert many < 0.6 * alone


@pytest.mark.parametrize("coord", [None, 0.8])
def test_the_option_orthogonalises_the_mixed_step_before_the_coordinate_bound(coord):
  """directions() with orthogonalize=True is orthogonalize_like of the step without it, per
  matrix (vectors unchanged), then clipped to +-c_A |A_i|; at the first update A = g rs."""
  params = {"w": jax.random.normal(jax.random.PRNGKey(0), (40, 30)), "b": jnp.ones((30,)),
            "k": jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 5)),
            "w2": jax.random.normal(jax.random.PRNGKey(4), (40, 30)),    # batched with w and
            "wt": jax.random.normal(jax.random.PRNGKey(5), (30, 40))}    # wt (its wide form)
  grads = jax.tree_util.tree_map(lambda p: jnp.sin(3.0 * p) + 0.2 * p, params)
  plain = MnemosyneLOpt(chunk_length=64)
  ortho = MnemosyneLOpt(chunk_length=64, orthogonalize=True, max_coordinate_ratio=coord)
  theta = plain.init(jax.random.PRNGKey(2))
  state = plain.opt_fn(theta).init(params, num_steps=10)
  base, _ = plain.directions(theta, state, grads)
  got, _ = ortho.directions(theta, state, grads)
  for name in params:
    expected = np.asarray(orthogonalize.orthogonalize_like(base[name]))
    if coord is not None:
      g = np.asarray(grads[name], np.float64)
      a = g / (np.abs(g) + 1e-8)                  # m_hat rs at t = 1: g / (|g| + eps)
      expected = np.clip(expected, -coord * np.abs(a), coord * np.abs(a))
      assert np.any(np.abs(np.asarray(got[name])) >= coord * 0.999) or name == "b"
    np.testing.assert_allclose(np.asarray(got[name]), expected, rtol=1e-5, atol=1e-6)
  assert not np.allclose(np.asarray(got["w"]), np.asarray(base["w"]), atol=1e-3)


def test_eval_variant_is_the_shipped_default_orthogonalised():
  shipped = evaluation._load_learned("mnemosyne", "pretrained")[0].config  # pylint: disable=protected-access
  variant = evaluation._load_learned("mnemosyne_orthogonal", "pretrained")[0].config  # pylint: disable=protected-access
  assert variant == {**shipped, "orthogonalize": True}


def test_v1_rejects_the_option():
  with pytest.raises(ValueError, match="orthogonalize=True is an option of rule='v2'"):
    MnemosyneLOpt(rule="v1", orthogonalize=True)


def test_optax_option_on_the_shipped_theta():
  """scale_by_mnemosyne(orthogonalize=True) with the shipped "plain" theta (its per-coordinate bound
  lifted, so that nothing follows the orthogonalisation): each matrix's Delta is
  orthogonalize_like of the Delta without the option; mnemosyne(orthogonalize=True) is the same
  Delta times -lr."""
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  shipped, _ = mnemosyne_lopt.load_pretrained("plain")
  unbounded = MnemosyneLOpt(**{**shipped.config, "max_coordinate_ratio": None})
  params = {"w": jax.random.normal(jax.random.PRNGKey(3), (48, 20)), "b": jnp.zeros((20,))}
  grads = jax.tree_util.tree_map(lambda p: jnp.cos(2.0 * p) + 0.1 * p, params)
  plain = mnemosyne_lopt.scale_by_mnemosyne(learned_opt=unbounded, theta=None, name="plain")
  ortho = mnemosyne_lopt.scale_by_mnemosyne(learned_opt=unbounded, theta=None, name="plain",
                                            orthogonalize=True)
  d_plain, _ = plain.update(grads, plain.init(params))
  d_ortho, _ = ortho.update(grads, ortho.init(params))
  np.testing.assert_allclose(np.asarray(d_ortho["w"]),
                             np.asarray(orthogonalize.orthogonalize_like(d_plain["w"])),
                             rtol=1e-5, atol=1e-5)   # jitted against eager float32
  np.testing.assert_allclose(np.asarray(d_ortho["b"]), np.asarray(d_plain["b"]), rtol=1e-6)
  full = mnemosyne_lopt.mnemosyne(2e-3, weight_decay=0.0, learned_opt=unbounded, name="plain",
                                  orthogonalize=True)
  u, _ = full.update(grads, full.init(params), params)
  np.testing.assert_allclose(np.asarray(u["w"]), -2e-3 * np.asarray(d_ortho["w"]), rtol=1e-5,
                             atol=1e-9)


def test_pretrained_orthogonal_is_the_plain_configuration_with_the_option():
  """The shipped "orthogonal" optimizer (the default): the "plain" one's configuration with
  orthogonalize=True (the bound 2 and weight decay 0.1 included); mnemosyne-eval loads it as
  mnemosyne:pretrained/<name>, and an unknown name is one clear error."""
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  default = mnemosyne_lopt.load_pretrained("plain")[0].config
  lopt, theta = mnemosyne_lopt.load_pretrained("orthogonal")
  assert lopt.config == {**default, "orthogonalize": True}
  assert jax.tree_util.tree_structure(theta) == jax.tree_util.tree_structure(
      jax.eval_shape(lopt.init, jax.random.PRNGKey(0)))
  loaded, _, where = evaluation._load_learned("mnemosyne", "pretrained/orthogonal")  # pylint: disable=protected-access
  assert loaded.config == lopt.config and where == "pretrained 'orthogonal'"
  with pytest.raises(ValueError, match="No pretrained Mnemosyne 'nope'"):
    evaluation._load_learned("mnemosyne", "pretrained/nope")  # pylint: disable=protected-access

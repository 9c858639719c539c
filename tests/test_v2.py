"""Mnemosyne v2 (rule="v2"): every term of the step against float64 numpy, the normalisation, the
learning rate, the optax API, the CAM write inside the optimizer, scale invariance."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mnemosyne_lopt
from mnemosyne_lopt import cam
from mnemosyne_lopt import hpe
from mnemosyne_lopt import nn
from mnemosyne_lopt import random_features
from mnemosyne_lopt.optimizer import MnemosyneLOpt

B1, B2, EPS = 0.9, 0.999, 1e-8


def _tree():
  k = jax.random.split(jax.random.PRNGKey(0), 4)
  return {"dense": {"w": jax.random.normal(k[0], (40, 30)), "b": 0.1 * jnp.ones((30,))},
          "scalar": jnp.asarray(0.5), "empty": jnp.zeros((0, 3)),
          "conv": [jax.random.normal(k[1], (3, 3, 4, 5)), jax.random.normal(k[2], (1100,))]}


def _loss(p):
  return sum(jnp.sum(jnp.sin(3 * x) * x + 0.1 * x * x) for x in jax.tree_util.tree_leaves(p))


def _theta_with_head(lopt, key, bias, weight_scale=0.0):
  theta = lopt.init(key)
  fc2 = theta["head"]["fc2"]
  theta["head"]["fc2"] = {"w": fc2["w"] * weight_scale, "b": jnp.asarray(bias, jnp.float32)}
  return theta


def _features64(g, m, v, t):
  m = B1 * m + (1 - B1) * g
  v = B2 * v + (1 - B2) * g * g
  rs = 1.0 / (np.sqrt(v / (1 - B2 ** t)) + EPS)
  return m, v, m / (1 - B1 ** t) * rs, g * rs, np.sign(m)


@pytest.mark.parametrize("gain,cap,binds,rel,coord,align", [
    (None, None, None, False, None, False), (1.0, None, None, False, None, False),
    (4.0, None, None, False, None, False), (1.0, 0.6, False, False, None, False),
    (None, 0.5, True, False, None, False), (1.0, None, None, True, None, False),
    (4.0, None, None, True, 0.8, False), (1.0, 0.6, False, True, 1.5, False),
    (1.0, None, None, False, 0.7, True), (1.0, None, None, False, None, True)])
def test_step_with_constant_head_equals_the_closed_form(gain, cap, binds, rel, coord, align):
  """Zero head weights: every chunk gets the biases' pi, w, s, and the step is
  Delta = s w (pi . f) / max(rms_T(w pi . f), 1 / G) per tensor (with relative_chunk_scales:
  s (pi . f) / rms_T(pi . f) min(1, G rms_T(pi . f)), w cancelling), then with max_adam_ratio c
  scaled by min(1, c rms_T(A) / rms_T(Delta)), then with max_coordinate_ratio c_A clipped to
  +-c_A |A_i| per coordinate (with align_with_adam: to the interval between 0 and c_A A_i, or
  to 0 where Delta_i A_i < 0 without c_A).  With align_with_adam the mix leans on G = g rs, whose
  sign differs from A's where the gradient turns."""
  z, r, u = np.array([-1.0, 2.0, -1.0] if align else [0.7, -0.3, 0.2]), 0.4, 0.3
  lopt = MnemosyneLOpt(chunk_length=64, learning_rate=2e-3, max_step_gain=gain,
                       max_adam_ratio=cap, relative_chunk_scales=rel, max_coordinate_ratio=coord,
                       align_with_adam=align)
  theta = _theta_with_head(lopt, jax.random.PRNGKey(1), list(z) + [r, u])
  opt = lopt.opt_fn(theta)
  params = _tree()
  state = opt.init(params, num_steps=30)
  update, grad = jax.jit(opt.update), jax.jit(jax.grad(_loss))
  pi = np.exp(z) / np.exp(z).sum()
  s = np.exp(-np.log1p(np.exp(-u)))          # exp(-softplus(-u)), inside [1/100, 1]
  w = np.exp(np.tanh(r))
  p64 = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), params)
  m64 = jax.tree_util.tree_map(np.zeros_like, p64)
  v64 = jax.tree_util.tree_map(np.zeros_like, p64)
  capped, clipped, opposed = [], [], []
  for t in range(1, 8):
    g = grad(opt.get_params(state))
    state = update(state, g)
    g64 = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), g)
    new = jax.tree_util.tree_map(lambda *a: _features64(*a, t), g64, m64, v64,
                                 is_leaf=lambda x: isinstance(x, np.ndarray))
    pick = lambda i: jax.tree_util.tree_map(lambda x: x[i], new, is_leaf=lambda x: isinstance(x, tuple))
    m64, v64 = pick(0), pick(1)

    def step(p, a, gr, sg):
      d = w * (pi[0] * a + pi[1] * gr + pi[2] * sg)     # w cancels only where the RMS is >= 1/G
      ms = np.mean(d * d) if d.size else 0.0
      floor = 0.0 if gain is None else 1.0 / gain ** 2
      if rel:                                  # the RMS bound on the mix d / w
        delta = s * d / np.sqrt(ms) * (1.0 if gain is None else min(1.0, gain * np.sqrt(ms) / w)) \
            if ms > 0 else 0.0 * d
      else:
        delta = s * d / np.sqrt(max(ms, floor)) if ms > 0 else 0.0 * d
      if cap is not None and ms > 0:
        uncapped = np.sqrt(np.mean(delta ** 2))
        delta = delta * min(1.0, cap * np.sqrt(np.mean(a * a)) / uncapped)
        capped.append(np.sqrt(np.mean(delta ** 2)) < uncapped * (1 - 1e-3))
      if align:
        opposed.append(np.any(delta * a < 0))
        delta = np.where(delta * a > 0, delta, 0.0)
      if coord is not None:
        clipped.append(np.any(np.abs(delta) > coord * np.abs(a)))
        delta = np.clip(delta, -coord * np.abs(a), coord * np.abs(a))
      return p - 2e-3 * delta
    p64 = jax.tree_util.tree_map(step, p64, pick(2), pick(3), pick(4))
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6),
                         opt.get_params(state), p64)
  if cap is not None:                      # every non-empty tensor, every step
    assert len(capped) == 7 * 5 and all(c == binds for c in capped)   # both branches of the min
  if coord is not None:                    # the clip binds somewhere, but not everywhere
    assert any(clipped) and not all(clipped)
  if align:                                # some coordinates point against Adam's direction
    assert any(opposed) and not all(opposed)


def test_tree_sums_equal_numpy_per_chunk_in_network_order():
  """``_tree_sums_v2``: row offsets[i] + c holds chunk c of tensor i's seven sums, computed here
  from the vectorised tensor cut every L coordinates (L = 16 divides or is divided by every
  last axis); padding rows are zero.  Single-chunk vectors and scalars (summed together in one
  stack) sit between multi-chunk tensors and single-chunk matrices (summed alone)."""
  L = 16
  lopt = MnemosyneLOpt(chunk_length=L)
  shapes = [(3,), (40, 8), (16,), (5, 2), (4, 32), (1,), (70,), (2, 2, 4), (33, 16), ()]
  key = jax.random.PRNGKey(3)
  gs = [jax.random.normal(jax.random.fold_in(key, i), s) for i, s in enumerate(shapes)]
  ms = [0.3 * jax.random.normal(jax.random.fold_in(key, 50 + i), s) for i, s in enumerate(shapes)]
  vs = [jax.random.uniform(jax.random.fold_in(key, 90 + i), s) for i, s in enumerate(shapes)]
  layouts = [hpe.ChunkLayout(s, L) for s in shapes]
  assert sum(lay.num_chunks == 1 for lay in layouts) == 6      # 4 of them vectors or scalars
  it = jnp.asarray(4)
  got = np.asarray(jax.jit(lambda g, m, v: lopt._tree_sums_v2(layouts, g, m, v, it))(gs, ms, vs))
  offsets = lopt._row_offsets(layouts)
  assert got.shape == (offsets[-1], 7)
  want = np.zeros_like(got, dtype=np.float64)
  for i, (g, m, v) in enumerate(zip(gs, ms, vs)):
    m1, v1, a, gr, sg = _features64(*(np.asarray(x, np.float64).ravel() for x in (g, m, v)), 5)
    prods = np.stack([a * a, gr * gr, a * gr, np.abs(a), gr * sg, np.abs(sg), v1])
    for c in range(-(-g.size // L)):
      want[offsets[i] + c] = prods[:, c * L:(c + 1) * L].sum(axis=1)
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-4)


@pytest.mark.parametrize("gain,rel,log_gain", [(None, False, 0.0), (1.0, False, 0.0),
                                               (1.0, True, 0.0), (3.0, True, 0.0),
                                               (1.0, False, np.log(10.0))])
def test_coefficients_equal_numpy_for_random_head_outputs(gain, rel, log_gain):
  """v2_coefficients (pi, chunk scale w, tensor scale s, the Gram quadratic form) against numpy;
  with relative_chunk_scales the step's RMS is s min(1, G rms(d)) whatever the chunk scales;
  with max_log_gain B_g the tensor scale s = exp(max(B_g - softplus(B_g - u), -B_s))."""
  lopt = MnemosyneLOpt(chunk_length=8, max_relative_log_scale=1.0, max_log_shrink=np.log(100.0),
                       max_step_gain=gain, relative_chunk_scales=rel, max_log_gain=log_gain)
  rng = np.random.default_rng(0)
  counts = np.array([8, 8, 3, 0, 8, 5], np.float32)
  seg = np.array([0, 0, 0, 0, 1, 1], np.int32)
  sizes = np.array([19.0, 13.0], np.float32)
  f = [rng.standard_normal((int(n), 3)) for n in counts]
  for x in f:
    x[:, 2] = np.sign(x[:, 0])                # S = sign(m) = sign(A)
  sums = np.stack([[np.sum(x[:, 0] ** 2), np.sum(x[:, 1] ** 2), np.sum(x[:, 0] * x[:, 1]),
                    np.sum(np.abs(x[:, 0])), np.sum(x[:, 1] * x[:, 2]), np.sum(np.abs(x[:, 2])), 0.0]
                   for x in f])
  out = rng.standard_normal((6, 5)) * 2.0
  out[1, 4] = -30.0                           # a very negative u: s hits its floor of 1/100
  out[4:, 4] = 5.0                            # tensor 1: u_bar = 5, s = e^-0.007 or 9.4 (B_g = ln 10)
  k = np.asarray(lopt.v2_coefficients(jnp.asarray(out, jnp.float32), jnp.asarray(sums, jnp.float32),
                                      jnp.asarray(counts), jnp.asarray(seg), jnp.asarray(sizes)))
  pi = np.exp(out[:, :3]) / np.exp(out[:, :3]).sum(1, keepdims=True)
  w = np.exp(np.tanh(out[:, 3]))
  for tensor in (0, 1):
    rows = np.flatnonzero(seg == tensor)
    u_bar = np.sum(counts[rows] * out[rows, 4]) / sizes[tensor]
    s = np.exp(max(log_gain - np.logaddexp(0.0, log_gain - u_bar), -np.log(100.0)))
    d = [w[c] * (f[c] @ pi[c]) for c in rows]
    rms = np.sqrt(sum(np.sum(x ** 2) for x in d) / sizes[tensor])
    rms_mix = np.sqrt(sum(np.sum((f[c] @ pi[c]) ** 2) for c in rows) / sizes[tensor])
    if rel:
      want_rms = s * min(1.0, gain * rms_mix)
      divisor = rms * s / want_rms
    else:
      want_rms = s * (1.0 if gain is None else min(gain * rms, 1.0))
      divisor = rms if gain is None else max(rms, 1.0 / gain)
    want = pi[rows] * (s * w[rows] / divisor)[:, None]
    np.testing.assert_allclose(k[rows], want, rtol=2e-5)
    got_rms = np.sqrt(sum(np.sum((f[c] @ k[c]) ** 2) for c in rows) / sizes[tensor])
    # RMS of the step: s (G = None), s min(G rms, 1) (default), s min(1, G rms(d)) (relative
    # chunk scales); always <= s <= e^B_g
    np.testing.assert_allclose(got_rms, want_rms, rtol=2e-5)
    assert 1e-2 * (1 - 1e-6) <= s <= np.exp(log_gain)
  assert (s > 9.0) if log_gain else (0.99 < s <= 1.0)   # tensor 1's scale: the gain is used


@pytest.mark.parametrize("gain,log_gain", [(None, 0.0), (1.0, 0.0), (None, np.log(10.0))])
def test_every_tensor_step_has_rms_at_most_the_learning_rate(gain, log_gain):
  """With a random (large) head the step still has RMS <= lr s, s in [1/100, e^B_g], per tensor
  (exactly lr s with max_step_gain=None)."""
  lopt = MnemosyneLOpt(chunk_length=16, learning_rate=1e-3, head_init_scale=3.0, max_step_gain=gain,
                       max_log_gain=log_gain)
  top = 1e-3 * np.exp(log_gain)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(3)))
  params = _tree()
  state = opt.init(params, num_steps=40)
  update, grad = jax.jit(opt.update), jax.jit(jax.grad(_loss))
  checked = 0
  for _ in range(6):
    before = opt.get_params(state)
    g = grad(before)
    state = update(state, g)
    for a, b, gl in zip(jax.tree_util.tree_leaves(before),
                        jax.tree_util.tree_leaves(opt.get_params(state)), jax.tree_util.tree_leaves(g)):
      if np.any(np.asarray(gl) != 0):
        rms = float(jnp.sqrt(jnp.mean(jnp.square(b - a))))
        assert rms <= top * (1 + 1e-3), rms
        if gain is None:
          assert rms >= 1e-3 / 100 * (1 - 1e-3), rms
        checked += 1
  assert checked == 6 * 5                     # every non-empty tensor, every step


def test_learning_rate_scales_the_step_exactly_and_schedules_work():
  lopt1 = MnemosyneLOpt(chunk_length=32, learning_rate=1e-3)
  lopt2 = MnemosyneLOpt(chunk_length=32, learning_rate=2e-3)
  sched = MnemosyneLOpt(chunk_length=32, learning_rate=optax.linear_schedule(1e-3, 3e-3, 2))
  theta = lopt1.init(jax.random.PRNGKey(4))
  params = _tree()
  g = jax.grad(_loss)(params)
  steps = []
  for lopt in (lopt1, lopt2, sched):
    opt = lopt.opt_fn(theta)
    s1 = opt.update(opt.init(params, num_steps=10), g)
    s2 = opt.update(s1, g)
    steps.append((jax.tree_util.tree_map(lambda a, b: a - b, opt.get_params(s1), params),
                  jax.tree_util.tree_map(lambda a, b: a - b, opt.get_params(s2), opt.get_params(s1))))
  # new_p - p is rounded to the parameters' float32 grid: up to one ulp of |p| < 4 (2.4e-7).
  close = lambda a, b, c: jax.tree_util.tree_map(
      lambda x, y: np.testing.assert_allclose(x, c * y, rtol=1e-5, atol=3e-7), a, b)
  close(steps[1][0], steps[0][0], 2.0)        # 2x the rate: 2x the step
  close(steps[1][1], steps[0][1], 2.0)
  close(steps[2][0], steps[0][0], 1.0)        # the schedule's value after 0 updates: 1e-3
  close(steps[2][1], steps[0][1], 2.0)        # after 1 update: 2e-3


def test_optax_chain_equals_mnemosyne_and_the_learned_optimization_update():
  lopt = MnemosyneLOpt(chunk_length=32, learning_rate=3e-3, weight_decay=0.1)
  theta = lopt.init(jax.random.PRNGKey(5))
  params = _tree()
  chained = optax.chain(mnemosyne_lopt.scale_by_mnemosyne(theta, num_steps=20, learned_opt=lopt),
                        optax.add_decayed_weights(0.1), optax.scale_by_learning_rate(3e-3))
  whole = mnemosyne_lopt.mnemosyne(3e-3, weight_decay=0.1, num_steps=20, theta=theta,
                                   learned_opt=lopt)
  results = []
  for tx in (chained, whole):
    p, st = params, tx.init(params)
    for _ in range(5):
      u, st = tx.update(jax.grad(_loss)(p), st, p)
      p = optax.apply_updates(p, u)
    results.append(p)
  opt = lopt.opt_fn(theta)
  st = opt.init(params, num_steps=20)
  for _ in range(5):
    st = opt.update(st, jax.grad(_loss)(opt.get_params(st)))
  results.append(opt.get_params(st))
  for other in results[1:]:
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                           results[0], other)


def test_loss_scale_invariance_like_adam():
  """Training on 100 x the loss ends where training on the loss ends (up to eps), as with Adam."""
  lopt = MnemosyneLOpt(chunk_length=32)
  theta = lopt.init(jax.random.PRNGKey(6))
  params = _tree()

  def train(tx, scale):
    p, st = params, tx.init(params)
    step = jax.jit(lambda p, st: tx.update(jax.grad(lambda q: scale * _loss(q))(p), st, p))
    for _ in range(60):
      u, st = step(p, st)
      p = optax.apply_updates(p, u)
    return p
  for make in (lambda: mnemosyne_lopt.mnemosyne(theta=theta, learned_opt=lopt, num_steps=60),
               lambda: optax.adam(1e-3)):
    a, b = train(make(), 1.0), train(make(), 100.0)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-4, atol=2e-5), a, b)


def test_reparameterisation_by_a_scale_is_a_learning_rate_times_that_scale():
  """The shipped "plain" (weight decay 0) trains w with p = s w at learning rate lr along the path
  of p trained at s lr: its features are ratios of gradient statistics and the parameters do not
  enter the step, so meta-training's re-parameterisation scales (``param_scale_range``) act on
  the rule as learning-rate multipliers over the same range.  (The default's orthogonalised steps
  have the same invariance, ``test_shipped_step_is_invariant_to_the_gradient_scale``, but its
  40-step path at an effective rate of 0.1 moves by 3e-2 when the start moves by 1e-7, so paths
  cannot be compared to 1e-4.)"""
  params = _tree()
  tx = mnemosyne_lopt.mnemosyne(learning_rate=1e-3, weight_decay=0.0, num_steps=40, name="plain")

  @jax.jit
  def step(w, st, s, c):     # loss of p = s w; the step times c is a learning rate of c 1e-3
    value, grad = jax.value_and_grad(lambda w: _loss(jax.tree_util.tree_map(lambda x: s * x, w)))(w)
    u, st = tx.update(grad, st, w, loss=value)
    return optax.apply_updates(w, jax.tree_util.tree_map(lambda x: c * x, u)), st

  def train(w, s, c):
    st = tx.init(w)
    for _ in range(40):
      w, st = step(w, st, s, c)
    return w
  for scale in (100.0, 0.01):
    direct = train(params, 1.0, scale)
    w = train(jax.tree_util.tree_map(lambda x: x / scale, params), scale, 1.0)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(
        scale * np.asarray(b), a, rtol=1e-4, atol=1e-5 * scale), direct, w)


@pytest.mark.parametrize("name", ["default", "plain"])
def test_shipped_step_is_invariant_to_the_gradient_scale(name):
  """The shipped step Delta (the default's orthogonalised matrix steps included) is the same for
  gradients s g_t as for g_t, s = 1e-2 and 1e2, step by step over 40 steps: its features are
  ratios, the polar factor of s D is that of D and the step keeps D's scale-free RMS.  The
  gradients are kept at least 0.1 in size, so that eps in sqrt(v_hat) + eps (Adam's, 1e-8) stays
  below 1e-5 of sqrt(v_hat) at s = 1e-2 (nearer zero it breaks the invariance as in Adam)."""
  params = _tree()
  key = jax.random.PRNGKey(5)
  grads = []
  for t in range(40):
    noisy = jax.tree_util.tree_map(
        lambda x, k=jax.random.fold_in(key, t): x + 0.1 * jax.random.normal(k, jnp.shape(x)), params)
    grads.append(jax.tree_util.tree_map(lambda g: g + 0.1 * jnp.sign(g), jax.grad(_loss)(noisy)))
  tx = mnemosyne_lopt.scale_by_mnemosyne(num_steps=40, name=name)
  update = jax.jit(tx.update)

  def deltas(scale):
    st, out = tx.init(params), []
    for g in grads:
      d, st = update(jax.tree_util.tree_map(lambda x: scale * x, g), st)
      out.append(d)
    return out
  reference = deltas(1.0)
  for scale in (1e-2, 1e2):
    for d_ref, d in zip(reference, deltas(scale)):
      jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4),
                             d_ref, d)     # Delta is O(1): its RMS per tensor is at most 1


def test_parameter_values_do_not_enter_the_step():
  """v2 reads g, m, v only: the same gradients give the same step whatever the parameters are."""
  lopt = MnemosyneLOpt(chunk_length=32)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(7)))
  params = _tree()
  g = jax.grad(_loss)(params)
  shifted = jax.tree_util.tree_map(lambda x: 100.0 * x + 3.0, params)
  d1 = jax.tree_util.tree_map(lambda a, b: a - b, opt.get_params(opt.update(opt.init(params, num_steps=5), g)), params)
  d2 = jax.tree_util.tree_map(lambda a, b: a - b, opt.get_params(opt.update(opt.init(shifted, num_steps=5), g)), shifted)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=3e-5), d1, d2)


def test_cam_write_inside_the_optimizer_is_the_recurrence():
  """The meta-token memory after two updates equals e^-tau phi(k_1) v_1^T + phi(k_2) v_2^T, with
  k_t, v_t recomputed from the network's pieces (hpe_encode, layer norm, projections)."""
  lopt = MnemosyneLOpt(chunk_length=8, tau=0.3)
  theta = lopt.init(jax.random.PRNGKey(8))
  opt = lopt.opt_fn(theta)
  params = {"w": jax.random.normal(jax.random.PRNGKey(9), (16, 24))}     # 48 chunks, 3 streams
  state = opt.init(params, num_steps=10)
  captured = []
  orig = hpe.hpe_encode

  def spy(*args, **kwargs):
    out = orig(*args, **kwargs)
    captured.append(out[1])                   # the meta-tokens
    return out
  hpe.hpe_encode = spy
  try:
    for _ in range(2):
      state = opt.update(state, jax.grad(_loss)(opt.get_params(state)))
  finally:
    hpe.hpe_encode = orig
  c = theta["cam"]
  want = cam.cam_init((state.memory.normaliser.shape[0],), lopt.cam_features, lopt.model_dim)
  for meta in captured:
    xi = nn.layer_norm(c["ln"], meta)
    phi_k = random_features.hyperbolic_features(
        random_features.bounded(nn.dense(c["k"], xi), lopt.qk_radius), lopt.cam_projection)
    vals = nn.dense(c["v"], xi)
    n = meta.shape[0]
    decay = np.exp(-0.3)
    mem = np.array(want.memory)
    mem[:n] = decay * mem[:n] + np.einsum("sr,sd->srd", phi_k, vals)
    nrm = np.array(want.normaliser)
    nrm[:n] = decay * nrm[:n] + np.asarray(phi_k)
    want = cam.CAMState(memory=jnp.asarray(mem), normaliser=jnp.asarray(nrm))
  assert float(jnp.max(jnp.abs(state.memory.memory))) > 0.01
  np.testing.assert_allclose(state.memory.memory, want.memory, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(state.memory.normaliser, want.normaliser, rtol=1e-5, atol=1e-6)


def test_unknown_horizon_and_hidden_horizon_in_meta_training():
  lopt = MnemosyneLOpt(chunk_length=32, hide_horizon_prob=1.0)
  theta = lopt.init(jax.random.PRNGKey(10))
  params = _tree()
  assert int(lopt.opt_fn(theta).init(params).num_steps) == 0          # None: T unknown
  assert int(lopt.opt_fn(theta).init(params, num_steps=50, key=jax.random.PRNGKey(0)).num_steps) == 50
  hidden = lopt.opt_fn(theta, is_training=True).init(params, num_steps=50, key=jax.random.PRNGKey(0))
  assert int(hidden.num_steps) == 0
  tx = mnemosyne_lopt.mnemosyne(theta=theta, learned_opt=lopt)         # num_steps=None
  st = tx.init(params)
  u, st = tx.update(jax.grad(_loss)(params), st, params)
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(u))
  with pytest.raises(ValueError, match="v1 needs the planned number"):
    MnemosyneLOpt(rule="v1").opt_fn(MnemosyneLOpt(rule="v1").init(jax.random.PRNGKey(0))).init(params)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradient_skips_the_whole_step_with_weight_decay(bad):
  lopt = MnemosyneLOpt(chunk_length=32, weight_decay=0.5)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(11)))
  params = _tree()
  state = opt.update(opt.init(params, num_steps=10), jax.grad(_loss)(params))
  g = jax.grad(_loss)(opt.get_params(state))
  g["conv"][1] = g["conv"][1].at[7].set(bad)
  new = opt.update(state, g)
  assert int(new.skipped_updates) == 1 and int(new.iteration) == int(state.iteration)
  for a, b in zip(jax.tree_util.tree_leaves(new.replace(skipped_updates=state.skipped_updates)),
                  jax.tree_util.tree_leaves(state)):
    np.testing.assert_array_equal(a, b)


def test_clear_errors():
  with pytest.raises(ValueError, match="meta_token mode only"):
    MnemosyneLOpt(mode="per_coordinate")
  with pytest.raises(ValueError, match="learning_rate must be a positive"):
    MnemosyneLOpt(learning_rate=0.0)
  with pytest.raises(ValueError, match="num_steps must be a positive integer"):
    mnemosyne_lopt.scale_by_mnemosyne(MnemosyneLOpt().init(jax.random.PRNGKey(0)), num_steps=0)
  v1 = MnemosyneLOpt(rule="v1")
  with pytest.raises(ValueError, match="needs a rule='v2' Mnemosyne"):
    mnemosyne_lopt.scale_by_mnemosyne(v1.init(jax.random.PRNGKey(0)), learned_opt=v1)


def test_adamw_harness_routes_vectors_and_embeddings_to_adamw():
  params = {"embed": {"embedding": jnp.ones((10, 4))}, "dense": {"kernel": jnp.ones((4, 4)),
                                                                 "bias": jnp.ones((4,))}}
  labels = mnemosyne_lopt.adamw_harness_labels(params)
  assert labels == {"embed": {"embedding": "adamw"}, "dense": {"kernel": "mnemosyne", "bias": "adamw"}}
  lopt = MnemosyneLOpt(chunk_length=8)
  tx = mnemosyne_lopt.mnemosyne_with_adamw_harness(1e-3, theta=lopt.init(jax.random.PRNGKey(0)),
                                                   learned_opt=lopt)
  grads = jax.tree_util.tree_map(lambda x: 0.5 * x, params)
  u, _ = tx.update(grads, tx.init(params), params)
  adamw = optax.adamw(1e-3, weight_decay=0.1)      # the harness's default: Mnemosyne's decay 0.1
  adam_u, _ = adamw.update(grads, adamw.init(params), params)
  np.testing.assert_allclose(u["dense"]["bias"], adam_u["dense"]["bias"], rtol=1e-6)
  np.testing.assert_allclose(u["embed"]["embedding"], adam_u["embed"]["embedding"], rtol=1e-6)
  delta = u["dense"]["kernel"] + 1e-3 * 0.1 * params["dense"]["kernel"]   # -lr Delta
  np.testing.assert_allclose(float(jnp.sqrt(jnp.mean(delta ** 2))), 1e-3 * 0.8808,
                             rtol=1e-3)   # untrained: s = exp(-softplus(-2))


@pytest.mark.parametrize("log_gain", [0.5, np.log(10.0)])
def test_untrained_step_is_the_same_whatever_max_log_gain(log_gain):
  """The initial head bias puts s at exp(-softplus(-2)) = 0.8808 for every B_g, so an untrained
  optimizer with a gain takes the same steps as one without (and 0.0 keeps the bias 2 exactly),
  up to the head's small initial weights, which move u by ~1e-2 and s with slope
  sigmoid(B_g - u) (0.12 at B_g = 0): well within 1 %."""
  params = _tree()
  g = jax.grad(_loss)(params)
  steps = []
  for bg in (0.0, log_gain):
    lopt = MnemosyneLOpt(chunk_length=16, max_log_gain=bg)
    theta = lopt.init(jax.random.PRNGKey(5))
    opt = lopt.opt_fn(theta)
    steps.append(jax.tree_util.tree_map(lambda a, b: a - b,
                                        opt.get_params(opt.update(opt.init(params, num_steps=10), g)),
                                        params))
    if bg == 0.0:
      assert float(theta["head"]["fc2"]["b"][-1]) == 2.0
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-9), *steps)


def test_init_scale_reference_multiplies_each_matrix_step_by_its_initial_rms_ratio():
  """With init_scale_reference rho every matrix-like tensor's Delta is f = max(1, rms(p_0) / rho)
  times the Delta without it (f from numpy float64 on the parameters given to init), step after
  step whatever the parameters passed later; vectors, scalars, empty and small tensors keep f = 1;
  the learned_optimization update is p - lr (f Delta + weight_decay p)."""
  rho, lr, wd = 0.3, 2e-3, 0.1
  params = {**_tree(), "small": 0.01 * jax.random.normal(jax.random.PRNGKey(3), (8, 8))}
  theta = MnemosyneLOpt(chunk_length=32).init(jax.random.PRNGKey(9))

  def f64(p):
    p = np.asarray(p, np.float64)
    matrix = p.ndim >= 2 and p.shape[-1] >= 2 and p.size // p.shape[-1] >= 2
    return max(1.0, np.sqrt(np.mean(p * p)) / rho) if matrix else 1.0
  expected = jax.tree_util.tree_map(f64, params)
  assert sorted(jax.tree_util.tree_leaves(expected))[-1] > 3.0     # N(0, 1) matrices: f ~ 3.3

  runs = []
  for ref in (None, rho):
    tx = mnemosyne_lopt.scale_by_mnemosyne(
        theta, num_steps=10, learned_opt=MnemosyneLOpt(chunk_length=32, init_scale_reference=ref))
    st, out, p = tx.init(params), [], params
    for t in range(3):
      d, st = tx.update(jax.grad(_loss)(p), st, p)
      out.append(d)
      p = jax.tree_util.tree_map(lambda x: 1.5 * x + 0.1, p)      # later parameters: f stays
    runs.append(out)
  for d0, d1 in zip(*runs):
    jax.tree_util.tree_map(lambda a, b, f: np.testing.assert_allclose(b, f * np.asarray(a),
                                                                      rtol=1e-6, atol=1e-9),
                           d0, d1, expected)
  lopt = MnemosyneLOpt(chunk_length=32, init_scale_reference=rho, learning_rate=lr,
                       weight_decay=wd)
  opt = lopt.opt_fn(theta)
  new = opt.get_params(opt.update(opt.init(params, num_steps=10), jax.grad(_loss)(params)))
  jax.tree_util.tree_map(
      lambda p1, p0, d: np.testing.assert_allclose(p1, p0 - lr * (d + wd * p0), rtol=1e-6, atol=1e-9),
      new, params, runs[1][0])


def test_init_relative_step_is_invariant_to_reparameterising_a_matrix():
  """With init_scale_reference rho, training w with p = c w (w_0 = p_0 / c, rms(w_0) > rho) ends
  at c w_T = p_T, weight decay included: f scales with 1 / c as the gradient's scale-free step
  does not.  Without it the two end apart (the step then has the same RMS in w as in p)."""
  k = jax.random.split(jax.random.PRNGKey(4), 2)
  params = {"w": jax.random.normal(k[0], (40, 30)), "conv": jax.random.normal(k[1], (3, 3, 4, 5))}
  theta = MnemosyneLOpt(chunk_length=32).init(jax.random.PRNGKey(10))

  def train(ref, c):
    lopt = MnemosyneLOpt(chunk_length=32, init_scale_reference=ref)
    tx = mnemosyne_lopt.mnemosyne(1e-3, weight_decay=0.1, num_steps=20, theta=theta, learned_opt=lopt)
    w = jax.tree_util.tree_map(lambda x: x / c, params)
    st = tx.init(w)
    step = jax.jit(lambda w, st: tx.update(
        jax.grad(lambda w: _loss(jax.tree_util.tree_map(lambda x: c * x, w)))(w), st, w))
    for _ in range(20):
      u, st = step(w, st)
      w = optax.apply_updates(w, u)
    return jax.tree_util.tree_map(lambda x: c * x, w)
  gap = lambda a, b: max(float(jnp.max(jnp.abs(x - y))) for x, y in
                         zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))
  for c in (0.5, 4.0):
    assert gap(train(0.1, 1.0), train(0.1, c)) < 2e-5, c
    assert gap(train(None, 1.0), train(None, c)) > 1e-3, c


def test_init_scale_reference_clear_errors():
  with pytest.raises(ValueError, match="init_scale_reference must be a positive float"):
    MnemosyneLOpt(init_scale_reference=0.0)
  with pytest.raises(ValueError, match="init_scale_reference must be a positive float"):
    MnemosyneLOpt(rule="v1", init_scale_reference=0.02)


def test_init_relative_eval_variant_and_stability_flag_set_the_option():
  """mnemosyne-eval's mnemosyne_init_relative is the shipped default with init_scale_reference
  0.02; mnemosyne-stability's --init_scale_reference sets it for mnemosyne / mnemosyne_T, whose
  first update then equals mnemosyne(init_scale_reference=0.02)'s."""
  from mnemosyne_lopt import evaluation, stability  # pylint: disable=g-import-not-at-top
  shipped = evaluation._load_learned("mnemosyne", "pretrained")[0].config  # pylint: disable=protected-access
  variant = evaluation._load_learned("mnemosyne_init_relative", "pretrained")[0].config  # pylint: disable=protected-access
  assert variant == {**shipped, "init_scale_reference": 0.02}
  params = {"w": 0.2 * jax.random.normal(jax.random.PRNGKey(1), (16, 8)), "b": jnp.zeros((8,))}
  g = jax.tree_util.tree_map(lambda p: jnp.cos(3 * p) + 0.1, params)
  tx = stability.make_optimizer("mnemosyne", 100, overrides={"init_scale_reference": 0.02})
  ours, _ = tx.update(g, tx.init(params), params)
  ref_tx = mnemosyne_lopt.mnemosyne(1e-3, init_scale_reference=0.02)      # stability's rate
  ref, _ = ref_tx.update(g, ref_tx.init(params), params)
  plain_tx = mnemosyne_lopt.mnemosyne(1e-3)
  plain, _ = plain_tx.update(g, plain_tx.init(params), params)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours, ref)
  # -lr (f Delta + wd p) = f (-lr (Delta + wd p)) + lr wd (f - 1) p: the decay is not scaled.
  f = float(jnp.sqrt(jnp.mean(params["w"] ** 2))) / 0.02                      # ~10
  np.testing.assert_allclose(ref["w"], f * plain["w"] + 1e-3 * 0.1 * (f - 1) * params["w"],
                             rtol=1e-4, atol=1e-9)
  np.testing.assert_allclose(ref["b"], plain["b"], rtol=1e-6, atol=1e-12)

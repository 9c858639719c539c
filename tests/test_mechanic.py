"""mnemosyne_lopt.mechanic.mechanize against optax.contrib.mechanize, the reference it follows."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mnemosyne_lopt
from mnemosyne_lopt import mechanic


def _problem():
  """A 2-layer tanh regression: parameters, a loss and a fixed batch."""
  key = jax.random.PRNGKey(3)
  k1, k2, k3 = jax.random.split(key, 3)
  params = {"w1": jax.random.normal(k1, (6, 16)) * 0.5, "b1": jnp.zeros((16,)),
            "w2": jax.random.normal(k2, (16, 1)) * 0.3}
  x = jax.random.normal(k3, (32, 6))
  y = jnp.sin(x[:, :1] * 2.0) + x[:, 1:2]

  def loss(p):
    return jnp.mean(jnp.square(jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] - y))
  return params, loss


def _trajectory(tx, steps, bad_steps=()):
  """Parameters after ``steps`` jitted updates; at the steps in ``bad_steps`` one gradient entry
  is NaN.  Also returns the losses."""
  params, loss = _problem()

  @jax.jit
  def step(p, s, poison):
    value, g = jax.value_and_grad(loss)(p)
    g = dict(g, w1=g["w1"].at[2, 3].add(poison))
    u, s = tx.update(g, s, p, loss=value)
    return optax.apply_updates(p, u), s, value
  state, losses = tx.init(params), []
  for t in range(steps):
    params, state, value = step(params, state, jnp.nan if t in bad_steps else 0.0)
    losses.append(float(value))
  return params, state, losses


def _assert_close(a, b, rtol, atol):
  jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


# Mechanic's recursion amplifies rounding: the two implementations, the same operations fused
# differently by XLA, differ by 4e-14 after 5 float64 updates, 1e-10 after 20 and 1e-8 after 40
# (5e-6 after 40 in float32), so they are compared in float64.

def test_mechanize_follows_optax_contrib_mechanize():
  """Around Adam at rate 1.0, 40 updates in float64: the same parameters and the same learned
  scales as optax.contrib.mechanize, the loss falling to under half."""
  with jax.enable_x64(True):
    ours, ours_state, losses = _trajectory(mechanic.mechanize(optax.adam(1.0)), 40)
    ref, ref_state, _ = _trajectory(optax.contrib.mechanize(optax.adam(1.0)), 40)
  assert ours["w1"].dtype == jnp.float64
  assert losses[-1] < 0.5 * losses[0]
  _assert_close(ours, ref, rtol=1e-7, atol=1e-7)
  np.testing.assert_allclose(ours_state.s, ref_state.s, rtol=1e-6)
  assert int(ours_state.count) == int(ref_state.count) == 40


@pytest.mark.parametrize("bad_steps", [(), (0,), (5, 6)])
def test_mnemosyne_mechanic_equals_apply_if_finite_around_optax_mechanize(bad_steps):
  """mnemosyne_mechanic with a warmup-cosine shape, NaN gradients at the first update or two in
  the middle, 60 updates in float64 (Mnemosyne's network in float32): the same parameters as
  optax.apply_if_finite(optax.contrib.mechanize(mnemosyne(shape))), the composition built from
  public pieces that skips a bad step whole, the loss falling to under half."""
  shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, 5, 60)
  tx = mnemosyne_lopt.mnemosyne_mechanic(shape, num_steps=60)
  ref = optax.apply_if_finite(optax.contrib.mechanize(mnemosyne_lopt.mnemosyne(shape, num_steps=60)),
                              max_consecutive_errors=100)
  with jax.enable_x64(True):
    ours, state, losses = _trajectory(tx, 60, bad_steps)
    theirs, _, _ = _trajectory(ref, 60, bad_steps)
  assert losses[-1] < 0.5 * losses[0]
  _assert_close(ours, theirs, rtol=1e-5, atol=2e-6)
  assert (int(state.count), int(state.skipped)) == (60 - len(bad_steps), len(bad_steps))


def test_non_finite_first_gradient_leaves_the_start_untaken():
  """A NaN at the first update: zero update, x_0 still zeros and count 0, so the next update is
  the first update of a fresh state."""
  params, loss = _problem()
  tx = mechanic.mechanize(optax.apply_if_finite(optax.adam(1.0), 100))
  state = tx.init(params)
  g = jax.grad(loss)(params)
  u, bad = tx.update(dict(g, b1=g["b1"].at[0].set(jnp.inf)), state, params)
  assert all(float(jnp.max(jnp.abs(x))) == 0.0 for x in jax.tree_util.tree_leaves(u))
  assert (int(bad.count), int(bad.skipped)) == (0, 1)
  assert all(float(jnp.max(jnp.abs(x))) == 0.0 for x in jax.tree_util.tree_leaves(bad.x0))
  after, _ = tx.update(g, bad, params)
  fresh, _ = tx.update(g, state, params)
  jax.tree_util.tree_map(np.testing.assert_array_equal, after, fresh)


def test_mechanize_refuses_bfloat16_parameters_in_one_sentence():
  with pytest.raises(ValueError, match="Mechanic needs float32 parameters, got bfloat16"):
    mechanic.mechanize(optax.adam(1.0)).init({"w": jnp.ones((2, 3), jnp.bfloat16)})

"""The optax adapter against optax's own Adam, under jit/donation/chain/MultiSteps, and orbax."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

import mnemosyne_lopt
from mnemosyne_lopt import pretrained as pretrained_lib
from mnemosyne_lopt.optimizer import MnemosyneLOpt


def _params():
  k = jax.random.split(jax.random.PRNGKey(0), 3)
  return {"dense": {"w": jax.random.normal(k[0], (20, 30)), "b": jnp.zeros((30,))},
          "conv": [jax.random.normal(k[1], (3, 3, 2, 5))]}


def _loss(p):
  return sum(jnp.sum(jnp.sin(3 * x) * x) for x in jax.tree_util.tree_leaves(p))


@functools.lru_cache(maxsize=None)
def _tx():
  """Mnemosyne with its untrained network (a non-zero head): one object, so jit caches are shared."""
  lopt = MnemosyneLOpt(chunk_length=64)
  return mnemosyne_lopt.to_optax(lopt, lopt.init(jax.random.PRNGKey(2)), num_steps=20)


@functools.lru_cache(maxsize=None)
def _adam_like_tx(num_steps=50, step_mult=1e-3):
  """Mnemosyne whose head's last layer is zero: exactly Adam(step_mult) (tests/test_optimizer.py)."""
  lopt = MnemosyneLOpt(rule="v1", head_init_scale=0.0, chunk_length=64, step_mult=step_mult)
  return mnemosyne_lopt.to_optax(lopt, lopt.init(jax.random.PRNGKey(1)), num_steps)


@functools.lru_cache(maxsize=None)
def _make_step(tx, donate=False):
  def step(params, state):
    loss, grads = jax.value_and_grad(_loss)(params)
    updates, state = tx.update(grads, state, params, loss=loss)
    return optax.apply_updates(params, updates), state, updates
  return jax.jit(step, donate_argnums=(0, 1) if donate else ())


def _run(tx, steps, params=None):
  params = _params() if params is None else params
  state, step, all_updates = tx.init(params), _make_step(tx), []
  for _ in range(steps):
    params, state, updates = step(params, state)
    all_updates.append(updates)
  return params, state, all_updates


def _assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
  jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


# updates = new_params - params is rounded to the parameters' float32 grid: for |p| < 4 an update
# can differ from Adam's by up to one ulp of p (2.4e-7), i.e. 1e-4 relative on a 1e-3 step.
_UPDATE_ATOL = 3e-7


def test_zero_head_updates_equal_optax_adam():
  params_m, _, updates_m = _run(_adam_like_tx(), 8)
  params_a, _, updates_a = _run(optax.adam(1e-3), 8)
  for um, ua in zip(updates_m, updates_a):
    _assert_trees_close(um, ua, rtol=1e-5, atol=_UPDATE_ATOL)
  _assert_trees_close(params_m, params_a)


@pytest.mark.parametrize("every_k", [1, 2])
def test_inside_chain_with_clipping_weight_decay_and_multisteps(every_k):
  def chain(core):
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.add_decayed_weights(1e-2), core)
    return optax.MultiSteps(tx, every_k_schedule=every_k) if every_k > 1 else tx
  params_m, state_m, updates_m = _run(chain(_adam_like_tx(step_mult=1e-2)), 6)
  params_a, _, updates_a = _run(chain(optax.adam(1e-2)), 6)
  for um, ua in zip(updates_m, updates_a):
    _assert_trees_close(um, ua, rtol=1e-5, atol=_UPDATE_ATOL)
  _assert_trees_close(params_m, params_a)
  moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in
              zip(jax.tree_util.tree_leaves(params_m), jax.tree_util.tree_leaves(_params())))
  assert moved > 1e-2     # the chain really trained (6 / every_k Adam steps of 1e-2)
  inner = [s for s in jax.tree_util.tree_leaves(
      state_m, is_leaf=lambda x: isinstance(x, mnemosyne_lopt.MnemosyneOptaxState))
           if isinstance(s, mnemosyne_lopt.MnemosyneOptaxState)]
  assert len(inner) == 1 and int(inner[0].inner.iteration) == 6 // every_k


def test_jit_with_donated_params_and_state_matches_undonated():
  tx = _tx()
  ref_params, ref_state, _ = _run(tx, 4)
  params = _params()
  state = tx.init(params)
  step = _make_step(tx, donate=True)
  for _ in range(4):
    old_w, old_m = params["dense"]["w"], state.inner.momentum["dense"]["w"]
    params, state, _ = step(params, state)
    assert old_w.is_deleted() and old_m.is_deleted()       # the buffers really were donated
  # The donated step is another compiled program; XLA does not promise the same rounding in two
  # programs (under the suite's XLA flags 2 of 600 weights differ by 1 ulp): equal to 1e-6.
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=0),
                         (params, state), (ref_params, ref_state))
  assert state.inner.params is None                        # no second copy of the model


def test_orbax_round_trip_continues_bitwise(tmp_path):
  tx = _tx()
  step = _make_step(tx)
  params = _params()
  state = tx.init(params)
  for _ in range(3):
    params, state, _ = step(params, state)
  ckpt = ocp.StandardCheckpointer()
  ckpt.save(tmp_path / "ckpt", {"params": params, "opt_state": state})
  ckpt.wait_until_finished()
  target = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct,
                                  {"params": params, "opt_state": state})
  restored = ckpt.restore(tmp_path / "ckpt", target)
  assert isinstance(restored["opt_state"], mnemosyne_lopt.MnemosyneOptaxState)
  p1, s1, p2, s2 = params, state, restored["params"], restored["opt_state"]
  for _ in range(3):
    p1, s1, _ = step(p1, s1)
    p2, s2, _ = step(p2, s2)
  jax.tree_util.tree_map(np.testing.assert_array_equal, (p1, s1), (p2, s2))
  assert int(s2.inner.iteration) == 6


@functools.lru_cache(maxsize=None)
def _jit_update(tx):
  return jax.jit(tx.update)


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf])
def test_non_finite_gradient_gives_zero_updates_and_keeps_state(bad):
  tx = _tx()
  params, state, _ = _run(tx, 2)
  grads = jax.grad(_loss)(params)
  grads["dense"]["w"] = grads["dense"]["w"].at[3, 4].set(bad)
  updates, new_state = _jit_update(tx)(grads, state, params)
  assert all(float(jnp.max(jnp.abs(u))) == 0.0 for u in jax.tree_util.tree_leaves(updates))
  assert int(new_state.inner.skipped_updates) == 1
  jax.tree_util.tree_map(np.testing.assert_array_equal,
                         new_state.replace(inner=new_state.inner.replace(skipped_updates=0)), state)


def test_bfloat16_updates_keep_the_parameter_dtype():
  tx = _adam_like_tx()
  params = {"w": jnp.full((4, 8), 0.05, jnp.bfloat16)}   # |p| where bf16's grid resolves a 1e-3 step
  updates, _ = _jit_update(tx)({"w": jnp.ones((4, 8), jnp.bfloat16)}, tx.init(params), params)
  assert updates["w"].dtype == jnp.bfloat16
  assert float(jnp.max(updates["w"])) < 0


def test_update_without_params_is_a_clear_error():
  tx = _adam_like_tx()
  with pytest.raises(ValueError, match="needs the current parameters"):
    tx.update({"w": jnp.ones(3)}, tx.init({"w": jnp.ones(3)}))


def test_pretrained_missing_name_is_a_clear_error():
  with pytest.raises(FileNotFoundError, match="No pretrained Mnemosyne named"):
    mnemosyne_lopt.mnemosyne(name="no_such_optimizer")


@pytest.mark.parametrize("name", pretrained_lib.shipped_folders())
def test_every_shipped_pretrained_optimizer_trains_a_quadratic(name):
  lopt, theta = pretrained_lib.load_pretrained(name)
  # v2: its step has RMS <= learning_rate; 200 steps of 1e-3 cannot travel the 0.58 RMS to the target
  tx = (mnemosyne_lopt.mnemosyne(1e-2, name=name, num_steps=200) if lopt.rule == "v2"
        else mnemosyne_lopt.to_optax(lopt, theta, 200))
  target = jnp.linspace(-1.0, 1.0, 64)
  loss = lambda p: jnp.mean(jnp.square(p["x"] - target))
  params = {"x": jnp.zeros(64)}
  state = tx.init(params)

  @jax.jit
  def step(params, state):
    l, g = jax.value_and_grad(loss)(params)
    updates, state = tx.update(g, state, params, loss=l)
    return optax.apply_updates(params, updates), state
  first = float(loss(params))
  for _ in range(200):
    params, state = step(params, state)
  assert float(loss(params)) < 0.5 * first


def test_shipped_pretrained_optimizers_are_v2_default_and_v1_for_comparison():
  assert {"default", "orthogonal", "plain", "v1", "v1_stage1"} <= set(pretrained_lib.available())
  default, theta = pretrained_lib.load_pretrained("default")
  assert default.rule == "v2" and default.orthogonalize
  orthogonal, theta_o = pretrained_lib.load_pretrained("orthogonal")   # "default" is its alias
  assert orthogonal.config == default.config
  for a, b in zip(jax.tree_util.tree_leaves(theta), jax.tree_util.tree_leaves(theta_o)):
    np.testing.assert_array_equal(a, b)
  plain = pretrained_lib.load_pretrained("plain")[0]
  assert plain.rule == "v2" and not plain.orthogonalize
  assert pretrained_lib.load_pretrained("v1")[0].rule == "v1"


@pytest.mark.parametrize("name", ["default", "plain", "v1"])
def test_read_theta_equals_reading_into_an_initialised_theta(name):
  """read_theta takes its structure from eval_shape (no initialiser run); the bytes read are the same
  arrays as flax's from_bytes into a computed lopt.init(key), leaf for leaf."""
  import flax  # pylint: disable=g-import-not-at-top
  lopt, theta = pretrained_lib.load_pretrained(name)
  with open(f"{pretrained_lib.PRETRAINED_DIR}/{pretrained_lib.resolve(name)}/theta.msgpack", "rb") as f:
    data = f.read()
  reference = flax.serialization.from_bytes(lopt.init(jax.random.PRNGKey(0)), data)
  assert jax.tree_util.tree_structure(theta) == jax.tree_util.tree_structure(reference)
  for a, b in zip(jax.tree_util.tree_leaves(theta), jax.tree_util.tree_leaves(reference)):
    np.testing.assert_array_equal(a, b)


def test_read_theta_of_another_configuration_is_a_clear_error():
  lopt, _ = pretrained_lib.load_pretrained("default")
  with open(f"{pretrained_lib.PRETRAINED_DIR}/{pretrained_lib.resolve('default')}/theta.msgpack",
            "rb") as f:
    data = f.read()
  wider = MnemosyneLOpt(**dict(lopt.config, hidden_dim=2 * lopt.hidden_dim))
  with pytest.raises(ValueError, match="holds meta-parameters of shapes .* load it with the "
                                       "optimizer configuration that made it"):
    pretrained_lib.read_theta(wider, data, "theta.msgpack")


def test_eager_update_is_one_compiled_program_shared_by_equal_configurations():
  """Outside jit the update runs as one compiled function (not op by op), the same as under the
  caller's jit, and optimizers rebuilt with equal arguments (inject_hyperparams) share it."""
  from mnemosyne_lopt import optax_adapter  # pylint: disable=g-import-not-at-top
  params = _params()
  grads = jax.grad(_loss)(params)
  tx = mnemosyne_lopt.mnemosyne()
  state = tx.init(params)
  eager, eager_state = tx.update(grads, state, params)
  jitted, jitted_state = jax.jit(tx.update)(grads, state, params)
  for a, b in zip(jax.tree_util.tree_leaves((eager, eager_state)),
                  jax.tree_util.tree_leaves((jitted, jitted_state))):
    # two programs: float32 rounding, which the default's Newton-Schulz products carry to ~1e-9
    # in steps of ~1e-3 (1e-6 of the step's scale)
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-8)
  one, two = (pretrained_lib.load_pretrained("default")[0] for _ in range(2))
  assert one is not two
  assert optax_adapter._jitted_directions(one) is optax_adapter._jitted_directions(two)  # pylint: disable=protected-access
  other = MnemosyneLOpt(**dict(one.config, max_adam_ratio=1.0))
  assert optax_adapter._jitted_directions(other) is not optax_adapter._jitted_directions(one)  # pylint: disable=protected-access


def test_default_weight_decay_is_decoupled_and_shared_by_the_optax_and_lopt_paths():
  """mnemosyne()'s step = mnemosyne(weight_decay=0)'s - lr 0.1 p (decoupled, scaled by the
  learning rate, as optax.adamw), and load_pretrained("default")'s learned_optimization update
  is the same step."""
  params = {"w": jax.random.normal(jax.random.PRNGKey(0), (64, 32)), "b": 0.5 * jnp.ones((32,))}
  loss = lambda p: jnp.sum(jnp.sin(p["w"]) ** 2) + jnp.sum((p["b"] - 0.2) ** 2)
  lr = 2e-3
  paths = {wd: [] for wd in (None, 0.0)}     # None: the default
  for wd, out in paths.items():
    tx = (mnemosyne_lopt.mnemosyne(lr) if wd is None
          else mnemosyne_lopt.mnemosyne(lr, weight_decay=wd))
    p, state = params, tx.init(params)
    for _ in range(3):
      u, state = tx.update(jax.grad(loss)(p), state, p)
      out.append((p, u))
      p = optax.apply_updates(p, u)
  # the first step, from the same parameters: the two differ by exactly -lr * 0.1 * p
  (_, u_default), (_, u_none) = paths[None][0], paths[0.0][0]
  jax.tree_util.tree_map(
      lambda a, b, x: np.testing.assert_allclose(a, b - lr * 0.1 * x, rtol=1e-6, atol=1e-9),
      u_default, u_none, params)
  assert mnemosyne_lopt.optax_adapter.DEFAULT_WEIGHT_DECAY == 0.1
  lopt, theta = pretrained_lib.load_pretrained("default")
  lopt = MnemosyneLOpt(**{**lopt.config, "learning_rate": lr})
  opt = lopt.opt_fn(theta)
  st = opt.init(params)
  for p, u in paths[None]:
    st = opt.update(st, jax.grad(loss)(opt.get_params(st)))
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                           opt.get_params(st), optax.apply_updates(p, u))


def test_max_adam_ratio_bounds_the_first_step_by_adams():
  """At step 1 Adam's direction is m_hat / (sqrt(v_hat) + eps) = sign(g) up to eps (RMS 1), so with
  max_adam_ratio=0.5 every tensor's step has RMS <= 0.5 lr, while the shipped default takes more."""
  params = {"w": jax.random.normal(jax.random.PRNGKey(0), (64, 32)), "b": jnp.ones((32,))}
  grads = jax.tree_util.tree_map(lambda p: 0.1 * jnp.sin(3.0 * p) + 0.01, params)
  rms = lambda t: [float(jnp.sqrt(jnp.mean(jnp.square(x)))) for x in jax.tree_util.tree_leaves(t)]
  for ratio, check in ((0.5, lambda r: r <= 0.5e-3 * (1 + 1e-4)), (None, lambda r: r > 0.6e-3)):
    tx = mnemosyne_lopt.mnemosyne(1e-3, weight_decay=0.0, max_adam_ratio=ratio)
    updates, _ = tx.update(grads, tx.init(params), params)
    assert all(check(r) for r in rms(updates)), (ratio, rms(updates))


def test_inject_hyperparams_under_jit_sets_learning_rate_and_weight_decay():
  """optax.inject_hyperparams(mnemosyne): jitted updates equal mnemosyne()'s with the same rate and
  decay; the injected rate and decay can be changed in the state (the step is linear in both);
  num_steps must be static, and says so."""
  params = _params()
  grads = jax.grad(_loss)(params)
  tx = optax.inject_hyperparams(mnemosyne_lopt.mnemosyne)(learning_rate=2e-3)
  state = tx.init(params)
  assert set(state.hyperparams) >= {"learning_rate", "weight_decay"}
  update = jax.jit(tx.update)
  ref = mnemosyne_lopt.mnemosyne(2e-3)
  ref_state = ref.init(params)
  p = params
  for _ in range(3):
    u, state = update(grads, state, p)
    v, ref_state = ref.update(grads, ref_state, p)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-8),
                           u, v)     # jitted against eager: float32 rounding (see above)
    p = optax.apply_updates(p, u)
  # the same state, the rate halved and the decay set to 0: Delta's part scales, the decay goes
  halved = state._replace(hyperparams={**state.hyperparams, "learning_rate": jnp.asarray(1e-3),
                                       "weight_decay": jnp.asarray(0.0)})
  u_full, _ = update(grads, state, p)
  u_half, _ = update(grads, halved, p)
  jax.tree_util.tree_map(
      lambda a, b, x: np.testing.assert_allclose(b, 0.5 * (a + 2e-3 * 0.1 * x), rtol=1e-5,
                                                 atol=1e-12), u_full, u_half, p)
  with pytest.raises(ValueError, match=r"static_args=\('num_steps',\)"):
    optax.inject_hyperparams(mnemosyne_lopt.mnemosyne)(num_steps=100).init(params)
  told = optax.inject_hyperparams(mnemosyne_lopt.mnemosyne, static_args=("num_steps",))(
      num_steps=100)
  jax.jit(told.update)(grads, told.init(params), params)


# --- mnemosyne_mechanic: Mnemosyne's update with its length learned by Mechanic ------------------
@functools.lru_cache(maxsize=None)
def _mechanic_tx():
  return mnemosyne_lopt.mnemosyne_mechanic()


def _mechanic_run(scale, steps, tx=None):
  """Parameters after ``steps`` jitted updates on ``scale`` times the test loss."""
  tx = tx or _mechanic_tx()

  @jax.jit
  def step(p, s):
    value, g = jax.value_and_grad(lambda q: scale * _loss(q))(p)
    u, s = tx.update(g, s, p, loss=value)
    return optax.apply_updates(p, u), s
  params = _params()
  state = tx.init(params)
  for _ in range(steps):
    params, state = step(params, state)
  return params


def test_mechanic_first_update_is_s_init_times_mnemosyne_at_rate_one():
  """At the first update x_0 = x, so h = 0, m_j = eps, v_j = 0 and s_j = s_init / 6: the update is
  S_1 u_0 = s_init u_0, with u_0 mnemosyne(1.0)'s update (its decay included)."""
  params = _params()
  grads = jax.grad(_loss)(params)
  tx = mnemosyne_lopt.mnemosyne_mechanic(s_init=1e-3)
  base = mnemosyne_lopt.mnemosyne(1.0)
  u, _ = tx.update(grads, tx.init(params), params)
  u0, _ = base.update(grads, base.init(params), params)
  # x_0 - (x_0 - S u_0) is rounded to the parameters' float32 grid (|x| < 4: 2.4e-7)
  _assert_trees_close(u, jax.tree_util.tree_map(lambda x: 1e-3 * x, u0), rtol=1e-4, atol=5e-7)


def test_mechanic_trajectory_is_invariant_to_the_loss_scale():
  """Mnemosyne's direction and Mechanic's scale (h, m, v and r all scale with the loss) are
  invariant to multiplying the loss by a constant: 30 updates on the loss and on 100x the loss
  end at the same parameters, far from where they started."""
  a, b = _mechanic_run(1.0, 30), _mechanic_run(100.0, 30)
  moved = max(float(jnp.max(jnp.abs(x - y))) for x, y in
              zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(_params())))
  assert moved > 0.05
  _assert_trees_close(a, b, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf])
def test_mechanic_non_finite_gradient_keeps_parameters_and_state(bad):
  """A gradient with a NaN or Inf gives a zero update and leaves the state as it was (but the
  counters of skipped steps); the next finite update is the one the bad step never happened, with
  a warmup schedule whose value changes at every step (indexed by applied updates)."""
  tx = mnemosyne_lopt.mnemosyne_mechanic(optax.linear_schedule(0.1, 1.0, 20))
  params = _params()
  state = tx.init(params)
  update = jax.jit(tx.update)
  for _ in range(3):
    u, state = update(jax.grad(_loss)(params), state, params)
    params = optax.apply_updates(params, u)
  grads = jax.grad(_loss)(params)
  bad_grads = jax.tree_util.tree_map(lambda g: g, grads)
  bad_grads["dense"]["w"] = bad_grads["dense"]["w"].at[3, 4].set(bad)
  u_bad, bad_state = update(bad_grads, state, params)
  assert all(float(jnp.max(jnp.abs(x))) == 0.0 for x in jax.tree_util.tree_leaves(u_bad))
  assert (int(bad_state.skipped), int(bad_state.count)) == (1, 3)
  assert int(bad_state.base_optimizer_state.skipped_updates) == 1

  def without_counters(st):
    return st._replace(skipped=0, base_optimizer_state=st.base_optimizer_state.replace(
        skipped_updates=0))
  jax.tree_util.tree_map(np.testing.assert_array_equal, without_counters(bad_state),
                         without_counters(state))
  after, _ = update(grads, bad_state, params)
  direct, _ = update(grads, state, params)
  jax.tree_util.tree_map(np.testing.assert_array_equal, after, direct)


def test_mechanic_finds_the_step_length_a_fixed_rate_lacks():
  """A target 3 away from the start in every coordinate: at learning rate 1e-3 Mnemosyne moves at
  most 0.3 in 300 steps (every tensor's step RMS <= the rate), so its loss stays above 80 % of the
  initial; Mechanic's scale grows while the accumulated step keeps lowering the loss and ends
  below 1 % of it."""
  loss = lambda p: 0.5 * jnp.sum(jnp.square(p["w"] - 3.0))
  params = {"w": jnp.zeros((8, 16))}

  def final_loss(tx):
    @jax.jit
    def run(p):
      def body(c, _):
        p, s = c
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), None
      return jax.lax.scan(body, (p, tx.init(p)), None, length=300)[0][0]
    return float(loss(run(params)))
  initial = float(loss(params))
  assert final_loss(mnemosyne_lopt.mnemosyne(1e-3, weight_decay=0.0)) > 0.8 * initial
  assert final_loss(mnemosyne_lopt.mnemosyne_mechanic(weight_decay=0.0)) < 0.01 * initial


def test_mechanic_default_shape_is_warmup_cosine_when_told_its_horizon():
  """schedule=None: told T, the warmup-cosine shape of mnemosyne-eval at peak 1.0 (warmup over
  ceil(T / 20) updates, then cosine decay to 0); not told, the constant 1.0."""
  from mnemosyne_lopt import evaluation    # pylint: disable=g-import-not-at-top

  def updates(tx, steps=6):
    params = _params()
    state, out = tx.init(params), []
    for _ in range(steps):
      u, state = tx.update(jax.grad(_loss)(params), state, params)
      params = optax.apply_updates(params, u)
      out.append(u)
    return out
  t = 40
  told = updates(mnemosyne_lopt.mnemosyne_mechanic(num_steps=t))
  jax.tree_util.tree_map(np.testing.assert_array_equal, told, updates(
      mnemosyne_lopt.mnemosyne_mechanic(evaluation.learning_rate_schedule("warmup_cosine", 1.0, t),
                                        num_steps=t)))
  # the first update is s_init sigma_0 u_0 with sigma_0 = 1 / W = 1/2 here: half the constant's
  # (s_init 1e-2: updates far above the parameters' float32 rounding, 2.4e-7)
  first = updates(mnemosyne_lopt.mnemosyne_mechanic(num_steps=t, s_init=1e-2), steps=1)[0]
  constant = updates(mnemosyne_lopt.mnemosyne_mechanic(1.0, num_steps=t, s_init=1e-2), steps=1)[0]
  assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree_util.tree_leaves(first)) > 1e-3
  _assert_trees_close(first, jax.tree_util.tree_map(lambda x: 0.5 * x, constant),
                      rtol=1e-4, atol=5e-7)
  jax.tree_util.tree_map(np.testing.assert_array_equal, updates(_mechanic_tx()),
                         updates(mnemosyne_lopt.mnemosyne_mechanic(1.0)))


def test_mechanic_with_bfloat16_parameters_is_a_clear_error():
  with pytest.raises(ValueError, match="needs float32 parameters, got bfloat16"):
    _mechanic_tx().init({"w": jnp.ones((4, 8), jnp.bfloat16), "b": jnp.zeros((8,))})


def test_mechanic_jit_with_donated_params_and_state_matches_undonated():
  """mechanize's own init holds the parameters as its x_0; mnemosyne_mechanic's does not, so a
  step that donates both runs, and gives the undonated step's parameters."""
  tx = _mechanic_tx()

  def step(p, s):
    value, g = jax.value_and_grad(_loss)(p)
    u, s = tx.update(g, s, p, loss=value)
    return optax.apply_updates(p, u), s
  results = []
  for donate in ((0, 1), ()):
    params = _params()
    state = tx.init(params)
    run = jax.jit(step, donate_argnums=donate)
    for _ in range(4):
      params, state = run(params, state)
    results.append(params)
  jax.tree_util.tree_map(np.testing.assert_array_equal, *results)


def test_untuned_default_is_the_documented_rate_and_decay():
  """mnemosyne() with no argument steps by -3e-3 (Delta + 0.1 p), Delta = scale_by_mnemosyne()'s
  direction (README, docs/results/eval/learning_rate_selection_orthogonal); with the pretrained
  "plain" or a theta of one's own the rate is 1e-3, the rate the shipped thetas were meta-trained
  at, which load_pretrained's learned_optimization optimizer keeps."""
  params = {"w": jax.random.normal(jax.random.PRNGKey(1), (48, 24)), "b": 0.3 * jnp.ones((24,))}
  grads = jax.grad(lambda p: jnp.sum(jnp.cos(p["w"])) + jnp.sum(p["b"] ** 2))(params)
  plain_lopt, plain_theta = pretrained_lib.load_pretrained("plain")
  own = {"theta": plain_theta, "learned_opt": plain_lopt}     # a theta passed in: not by name
  for kwargs, lr in (({}, 3e-3), ({"name": "plain"}, 1e-3), (own, 1e-3)):
    tx = mnemosyne_lopt.mnemosyne(**kwargs)
    updates, _ = tx.update(grads, tx.init(params), params)
    direction = mnemosyne_lopt.scale_by_mnemosyne(**kwargs)
    delta, _ = direction.update(grads, direction.init(params), params)
    jax.tree_util.tree_map(
        lambda u, d, p, lr=lr: np.testing.assert_allclose(u, -lr * (d + 0.1 * p), rtol=1e-5, atol=1e-10),
        updates, delta, params)
  assert pretrained_lib.load_pretrained("default")[0].learning_rate == 1e-3

"""MnemosyneLOpt: learned_optimization's contract, an Adam reference, state size, dtypes, errors."""

import gin
import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import test_utils
import numpy as np
import optax
import pytest

import mnemosyne_lopt
from mnemosyne_lopt import cam
from mnemosyne_lopt import gin_configs
from mnemosyne_lopt import hpe
from mnemosyne_lopt.optimizer import MnemosyneLOpt

MODES = ("meta_token", "per_coordinate")
# The rules and modes: v2 (the default) has the meta_token mode only; v1 has both.
CONFIGS = {"v2": {}, "v1": {"rule": "v1"}, "v1_per_coordinate": {"rule": "v1", "mode": "per_coordinate"}}


def _tree():
  k = jax.random.split(jax.random.PRNGKey(0), 4)
  return {"dense": {"w": jax.random.normal(k[0], (40, 30)), "b": jnp.zeros((30,))},
          "scalar": jnp.asarray(0.5), "empty": jnp.zeros((0, 3)),
          "conv": [jax.random.normal(k[1], (3, 3, 4, 5)), jax.random.normal(k[2], (1100,))]}


@pytest.mark.parametrize("config", CONFIGS)
def test_learned_optimization_smoketest_float32_and_float16(config):
  # LO's own contract test: two updates, structure, shapes and dtypes kept, in f32 and f16.
  test_utils.smoketest_learned_optimizer(MnemosyneLOpt(chunk_length=8, **CONFIGS[config]))


def test_untrained_theta_with_zero_head_is_exactly_adam():
  """v1 with the head's last layer zeroed: step = step_mult * m_hat / (sqrt(v_hat) + eps), Adam."""
  lopt = MnemosyneLOpt(rule="v1", head_init_scale=0.0, chunk_length=64)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(1)))
  params = _tree()
  adam = optax.adam(1e-3)
  adam_state, adam_params = adam.init(params), params
  state = opt.init(params, num_steps=50)
  update = jax.jit(opt.update)

  def loss(p):
    return sum(jnp.sum(jnp.sin(3 * x) * x) for x in jax.tree_util.tree_leaves(p))

  @jax.jit
  def adam_step(p, s):
    u, s = adam.update(jax.grad(loss)(p), s, p)
    return optax.apply_updates(p, u), s

  grad = jax.jit(jax.grad(loss))
  for _ in range(20):
    state = update(state, grad(opt.get_params(state)))
    adam_params, adam_state = adam_step(adam_params, adam_state)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                         opt.get_params(state), adam_params)


@pytest.mark.parametrize("bound,log_mag,adam_lr", [(3.0, 50.0, 1e-3 * np.exp(3.0)),
                                                   (3.0, -50.0, 1e-3 * np.exp(-3.0)),
                                                   (None, 1.5, 1e-3 * np.exp(1.5))])
def test_learned_step_scale_is_bounded(bound, log_mag, adam_lr):
  """Head = const b: step = step_mult exp(B tanh(b / B)) * Adam direction, i.e. Adam at that lr."""
  lopt = MnemosyneLOpt(rule="v1", head_init_scale=0.0, chunk_length=64, max_log_magnitude=bound)
  theta = lopt.init(jax.random.PRNGKey(1))
  theta["head"]["fc2"]["b"] = theta["head"]["fc2"]["b"].at[-1].set(log_mag)
  opt = lopt.opt_fn(theta)
  params = {"w": jax.random.normal(jax.random.PRNGKey(4), (30, 20))}
  loss = lambda p: jnp.sum(jnp.cos(2 * p["w"]) * p["w"])
  adam = optax.adam(adam_lr)
  adam_state, adam_params = adam.init(params), params
  state = opt.init(params, num_steps=20)
  for _ in range(10):
    state = opt.update(state, jax.grad(loss)(opt.get_params(state)))
    u, adam_state = adam.update(jax.grad(loss)(adam_params), adam_state)
    adam_params = optax.apply_updates(adam_params, u)
  np.testing.assert_allclose(opt.get_params(state)["w"], adam_params["w"], rtol=1e-5, atol=1e-6)


def _jit_step(opt, loss):
  return jax.jit(lambda s: opt.update(s, jax.grad(loss)(opt.get_params(s))))


@pytest.mark.parametrize("mode", MODES)
def test_trains_and_network_changes_the_step(mode):
  target = 0.5 * jax.random.normal(jax.random.PRNGKey(3), (50,))
  loss = lambda p: jnp.mean(jnp.square(p["x"] - target))
  finals = {}
  for scale in (0.0, 1.0):
    lopt = MnemosyneLOpt(chunk_length=16, head_init_scale=scale,
                         **({"rule": "v1", "mode": mode, "step_mult": 0.01} if mode == "per_coordinate"
                            else {"learning_rate": 0.01}))
    opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(2)))
    state = opt.init({"x": jnp.zeros((50,))}, num_steps=300)
    step = _jit_step(opt, loss)
    first = float(loss(opt.get_params(state)))
    for _ in range(300):
      state = step(state)
    finals[scale] = opt.get_params(state)["x"]
    final_loss = float(loss({"x": finals[scale]}))
    assert final_loss < 0.2 * first, (scale, final_loss, first)
    assert int(state.iteration) == 300 and int(state.skipped_updates) == 0
    written = sum(float(jnp.sum(m.normaliser)) for m in jax.tree_util.tree_leaves(
        state.memory, is_leaf=lambda x: isinstance(x, cam.CAMState)))
    assert written > 0      # the CAM memory was written
  # The HPE/CAM network's output moves the parameters differently from plain Adam.
  assert float(jnp.max(jnp.abs(finals[1.0] - finals[0.0]))) > 1e-3


def test_default_mode_state_is_at_most_three_floats_per_parameter():
  lopt = MnemosyneLOpt()
  params = {f"w{i}": jnp.zeros((512, 512)) for i in range(4)}
  state = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0))).init(params, num_steps=10)
  n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
  state_floats = sum(x.size for x in jax.tree_util.tree_leaves(
      (state.momentum, state.second_moment, state.memory)))
  assert state_floats / n_params <= 3.0
  assert 2.0 <= state_floats / n_params < 2.1      # m, v, and a small CAM per meta-token


def test_per_coordinate_mode_state_size_is_as_documented():
  lopt = MnemosyneLOpt(rule="v1", mode="per_coordinate", coord_features=4, coord_value_dim=1,
                       chunk_length=64)
  state = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0))).init({"w": jnp.zeros((64, 64))}, num_steps=10)
  floats = sum(x.size for x in jax.tree_util.tree_leaves((state.momentum, state.second_moment, state.memory)))
  assert floats == 64 * 64 * (2 + 4 * (1 + 1))


def test_bfloat16_parameters_keep_their_dtype_and_train():
  lopt = MnemosyneLOpt(learning_rate=1e-2, chunk_length=32)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
  target = jax.random.normal(jax.random.PRNGKey(1), (8, 16)).astype(jnp.bfloat16)
  params = {"w": jnp.zeros((8, 16), jnp.bfloat16), "b": jnp.zeros((16,), jnp.bfloat16)}
  loss = lambda p: jnp.mean(jnp.square((p["w"] + p["b"]).astype(jnp.float32) - target.astype(jnp.float32)))
  state = opt.init(params, num_steps=200)
  step = jax.jit(lambda s: opt.update(s, jax.grad(loss)(opt.get_params(s))))
  first = float(loss(params))
  for _ in range(200):
    state = step(state)
  p = opt.get_params(state)
  assert p["w"].dtype == jnp.bfloat16 and p["b"].dtype == jnp.bfloat16
  assert state.momentum["w"].dtype == jnp.float32
  assert float(loss(p)) < 0.3 * first


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
def test_non_finite_gradient_leaves_state_untouched_and_is_counted(bad):
  lopt = MnemosyneLOpt(chunk_length=8)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
  params = {"a": jnp.ones((5, 3)), "b": jnp.ones((4,))}
  state = opt.init(params, num_steps=10)
  grads = {"a": jnp.ones((5, 3)), "b": jnp.ones((4,))}
  state = opt.update(state, grads)
  bad_grads = {"a": grads["a"].at[2, 1].set(bad), "b": grads["b"]}
  after = jax.jit(opt.update)(state, bad_grads)
  assert int(after.skipped_updates) == 1
  for field in ("params", "momentum", "second_moment", "memory", "iteration"):
    jax.tree_util.tree_map(np.testing.assert_array_equal, getattr(after, field), getattr(state, field))
  resumed = opt.update(after, grads)
  assert int(resumed.iteration) == 2 and bool(jnp.all(jnp.isfinite(resumed.params["a"])))


def test_non_finite_parameter_is_skipped_and_keeps_the_cam_memory_finite():
  # v1 reads p: without the check, the Inf parameter's chunk statistics (log-RMS of p) would make
  # the network's output, and so the CAM memory of every tensor, NaN from this step on.  (v2's
  # statistics do not read p, tests/test_v2.py.)
  lopt = MnemosyneLOpt(rule="v1", chunk_length=8)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
  params = {"a": jnp.ones((5, 3)).at[0, 0].set(jnp.inf), "b": jnp.ones((4,))}
  state = opt.init(params, num_steps=10)
  after = jax.jit(opt.update)(state, {"a": jnp.ones((5, 3)), "b": jnp.ones((4,))})
  assert int(after.skipped_updates) == 1 and int(after.iteration) == 0
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(after.memory))
  np.testing.assert_array_equal(after.params["b"], params["b"])


def test_clear_errors():
  lopt = MnemosyneLOpt()
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
  with pytest.raises(TypeError, match=r"floating-point.*\['n'\]"):
    opt.init({"n": jnp.zeros((3,), jnp.int32)}, num_steps=10)
  v1 = MnemosyneLOpt(rule="v1")
  with pytest.raises(ValueError, match="num_steps"):
    v1.opt_fn(v1.init(jax.random.PRNGKey(0))).init({"w": jnp.zeros((3,))})
  with pytest.raises(ValueError, match="positive"):
    opt.init({"w": jnp.zeros((3,))}, num_steps=0)
  state = opt.init({"w": jnp.zeros((3,))}, num_steps=5)
  with pytest.raises(ValueError, match="does not match the parameter tree"):
    opt.update(state, {"w": jnp.zeros((3,)), "extra": jnp.zeros(())})
  with pytest.raises(ValueError, match="mode"):
    MnemosyneLOpt(rule="v1", mode="per_tensor")
  with pytest.raises(ValueError, match="rule"):
    MnemosyneLOpt(rule="v3")


def test_cam_memory_matches_recurrence_inside_optimizer():
  """The optimizer's meta-token memory is exactly e^{-tau} N + phi(k) v^T of its own inputs."""
  lopt = MnemosyneLOpt(chunk_length=8, tau=0.3)
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
  state = opt.init({"w": jnp.ones((10,))}, num_steps=10)
  s1 = opt.update(state, {"w": jnp.ones((10,))})
  s2 = opt.update(s1, {"w": -jnp.ones((10,))})
  # normaliser_2 = e^{-tau} normaliser_1 + phi(k_2), with phi(k_2) > 0.
  delta = s2.memory.normaliser - np.exp(-0.3) * s1.memory.normaliser
  assert bool(jnp.all(delta > 0))
  assert isinstance(s2.memory, cam.CAMState)


def test_gin_config_builds_the_optimizer():
  gin.clear_config()
  gin.add_config_file_search_path(gin_configs.CONFIG_DIR)
  gin.parse_config_files_and_bindings([gin_configs.path("mnemosyne_per_coordinate.gin")],
                                      ["MnemosyneLOpt.tau = 0.0"])
  try:
    lopt = mnemosyne_lopt.MnemosyneLOpt()
    assert lopt.mode == "per_coordinate" and lopt.rule == "v1"
    assert lopt.tau == 0.0 and lopt.chunk_length == 1024
  finally:
    gin.clear_config()


@pytest.mark.parametrize("mode", ["meta_token", "per_coordinate"])
def test_updating_tensors_together_equals_updating_each_alone(mode):
  # The network runs on all tensors' chunks at once (one HPE, CAM and head per tree); with finite
  # gradients, every tensor's new parameters, accumulators and CAM memory must be exactly those of
  # a tree holding that tensor alone.
  lopt = MnemosyneLOpt(chunk_length=16, head_init_scale=1.0,
                       **({"rule": "v1", "mode": mode} if mode == "per_coordinate" else {}))
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(3)))
  shapes = {"a": (40, 24), "b": (7,), "c": (), "d": (3, 5, 10), "e": (300,), "f": (0, 3)}
  keys = dict(zip(shapes, jax.random.split(jax.random.PRNGKey(0), len(shapes))))
  params = {k: jax.random.normal(keys[k], s) for k, s in shapes.items()}
  grads = [{k: jax.random.normal(jax.random.fold_in(keys[k], t), s) for k, s in shapes.items()}
           for t in range(3)]
  update = jax.jit(opt.update)
  together = opt.init(params, num_steps=50)
  for g in grads:
    together = update(together, g)
  leaf_names = sorted(shapes)                   # jax's order of a dict's leaves
  rows = dict(zip(leaf_names, lopt.stream_slices([shapes[k] for k in leaf_names])))
  memory_of = lambda state, k, rows_k: (          # one tensor's part of the memory
      jax.tree_util.tree_map(lambda x: x[rows_k], state.memory) if mode == "meta_token"
      else state.memory[k])
  for k in shapes:
    alone = opt.init({k: params[k]}, num_steps=50)
    for g in grads:
      alone = update(alone, {k: g[k]})
    assert int(alone.iteration) == 3
    for tree in ("params", "momentum", "second_moment", "memory"):
      if tree == "memory":
        a = jax.tree_util.tree_leaves(memory_of(alone, k, slice(0, rows[k].stop - rows[k].start)))
        b = jax.tree_util.tree_leaves(memory_of(together, k, rows[k]))
      else:
        a = jax.tree_util.tree_leaves(getattr(alone, tree)[k])
        b = jax.tree_util.tree_leaves(getattr(together, tree)[k])
      assert len(a) == len(b)
      for x, y in zip(a, b):
        assert x.shape == y.shape, (k, tree)
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6, err_msg=f"{k} {tree}")


@pytest.mark.parametrize("use_hpe", [True, False])
def test_no_hpe_ablation_has_no_mixing_across_chunks(use_hpe):
  # Four chunks of 8 coordinates.  With HPE, a change of chunk 0's gradient reaches chunk 3's step
  # through the Performer and the shared meta-token; without HPE (the ablation), it cannot.  (v1:
  # v2's step is normalised over the whole tensor, which couples its chunks by design.)
  lopt = MnemosyneLOpt(rule="v1", chunk_length=8, head_init_scale=1.0, use_hpe=use_hpe)
  theta = lopt.init(jax.random.PRNGKey(0))
  assert ("performer" in theta["hpe"]) == use_hpe
  opt = lopt.opt_fn(theta)
  params = {"x": jnp.linspace(-1.0, 1.0, 32)}
  state = opt.init(params, num_steps=10)
  assert state.memory.memory.shape[0] == (1 if use_hpe else 4)   # CAM streams
  g = jax.random.normal(jax.random.PRNGKey(1), (32,))
  a = opt.update(state, {"x": g}).params["x"]
  b = opt.update(state, {"x": g.at[:8].multiply(5.0)}).params["x"]
  changed = float(jnp.max(jnp.abs(a[24:] - b[24:])))
  if use_hpe:
    assert changed > 1e-7
  else:
    assert changed == 0.0


@pytest.mark.parametrize("mode", ["meta_token", "per_coordinate"])
def test_carried_chunk_moments_equal_sums_of_m_squared_and_v(mode):
  # chunk_moments is carried by recurrences; it must equal the per-chunk sums of m^2 and v
  # computed directly from the state, in the network's padded chunk order (each tensor's chunks
  # padded to a multiple of prod(pool_factors) = 4), after random steps and a skipped NaN step.
  lopt = MnemosyneLOpt(rule="v1", mode=mode, chunk_length=8, pool_factors=(2, 2))
  opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
  shapes = {"a": (5, 3), "b": (4,), "c": (3, 20), "d": ()}
  key = jax.random.PRNGKey(1)
  params = {k: jax.random.normal(jax.random.fold_in(key, i), s) for i, (k, s) in enumerate(shapes.items())}
  state = opt.init(params, num_steps=50)
  update = jax.jit(opt.update)
  for t in range(12):
    g = {k: jax.random.normal(jax.random.fold_in(key, 100 * t + i), s) * (1 + t)
         for i, (k, s) in enumerate(shapes.items())}
    if t == 5:
      g["c"] = g["c"].at[1, 2].set(jnp.nan)
    state = update(state, g)
  assert int(state.skipped_updates) == 1
  leaves = jax.tree_util.tree_leaves
  want, row = np.zeros((lopt.num_moment_rows([jnp.shape(p) for p in leaves(params)]), 2)), 0
  for m, v in zip(leaves(state.momentum), leaves(state.second_moment)):
    lay = hpe.ChunkLayout(m.shape, 8)
    view = lambda x: np.asarray(lay.view(jnp.asarray(x)), np.float64).reshape(lay.num_chunks, -1)
    want[row:row + lay.num_chunks, 0] = np.sum(view(m) ** 2, axis=1)
    want[row:row + lay.num_chunks, 1] = np.sum(view(v), axis=1)
    row += -(-lay.num_chunks // 4) * 4
  np.testing.assert_allclose(np.asarray(state.chunk_moments), want, rtol=2e-5, atol=1e-30)

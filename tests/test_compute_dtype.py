"""MnemosyneLOpt(compute_dtype="bfloat16"): the per-chunk network in bfloat16, state in float32.

Tolerance.  bfloat16 keeps 8 significant bits, so every rounding has relative error at most
u = 2^-8 ~ 0.0039.  Between the float32 chunk statistics and the float32 step the network has
about 8 rounded stages (token embedding, Performer projections and output, two pooling MLPs, CAM
projections, the head's first layer and its bf16 inputs of the last); relative errors add up to
~8 u ~ 3% in the worst aligned case and ~sqrt(8) u ~ 1.1% when they are independent.  The tests
allow 5% on the network's contribution to the step (step minus the Adam step the same theta
would give with a zeroed head), which a wrong cast (a float32 weight mixed with a bf16 matrix is
fine, but e.g. a bf16 CAM memory or a bf16 bias of the Adam coefficient drifts over steps, and a
network in float16 overflows) would exceed, and require that the bf16 result is not bitwise the
float32 one (the option really changes the computation).
"""

import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import test_utils
import numpy as np
import pytest

from mnemosyne_lopt.optimizer import MnemosyneLOpt

MODES = ("meta_token", "per_coordinate")
_RULE = {"meta_token": {}, "per_coordinate": {"rule": "v1"}}     # v2 has the meta_token mode only


def _params():
  k = jax.random.split(jax.random.PRNGKey(0), 3)
  return {"w": jax.random.normal(k[0], (96, 64)), "b": jnp.zeros((64,)),
          "v": jax.random.normal(k[1], (3000,))}


def _run(lopt, theta, params, steps=4):
  opt = lopt.opt_fn(theta)
  state = opt.init(params, num_steps=100)
  update = jax.jit(opt.update)
  for i in range(steps):
    grads = jax.tree_util.tree_map(
        lambda p, i=i: jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(7), i), p.shape), params)
    state = update(state, grads)
  return state, update.lower(state, grads).as_text()


@pytest.mark.parametrize("mode", MODES)
def test_bfloat16_network_matches_float32_within_bf16_precision(mode):
  # v2 normalises the step, so a head of the same scale moves it less: a larger one there.
  kw = dict(mode=mode, chunk_length=64, pool_factors=(2, 2),
            head_init_scale=1.0 if _RULE[mode] else 8.0, **_RULE[mode])
  theta = MnemosyneLOpt(**kw).init(jax.random.PRNGKey(1))   # a head that moves the step a lot
  params = _params()
  f32, f32_hlo = _run(MnemosyneLOpt(**kw), theta, params)
  bf16, bf16_hlo = _run(MnemosyneLOpt(compute_dtype="bfloat16", **kw), theta, params)
  zero_head = dict(theta, head=dict(theta["head"], fc2={
      "w": jnp.zeros_like(theta["head"]["fc2"]["w"]), "b": theta["head"]["fc2"]["b"]}))
  adam, _ = _run(MnemosyneLOpt(**kw), zero_head, params)
  assert "bf16" in bf16_hlo and "bf16" not in f32_hlo
  for name in params:
    step32 = np.asarray(f32.params[name] - params[name], np.float64)
    step16 = np.asarray(bf16.params[name] - params[name], np.float64)
    network = step32 - np.asarray(adam.params[name] - params[name], np.float64)
    assert np.linalg.norm(network) > 0.2 * np.linalg.norm(step32), name   # the network matters
    rel = np.linalg.norm(step16 - step32) / np.linalg.norm(network)
    assert 0 < rel < 0.05, (name, rel)
    # The accumulators and the memory are the float32 recurrences either way.
    assert bf16.momentum[name].dtype == jnp.float32 and bf16.second_moment[name].dtype == jnp.float32
    np.testing.assert_allclose(bf16.momentum[name], f32.momentum[name], rtol=1e-6, atol=1e-7)
    for leaf in jax.tree_util.tree_leaves(bf16.memory):
      assert leaf.dtype == jnp.float32


@pytest.mark.parametrize("mode", MODES)
def test_learned_optimization_smoketest_with_bfloat16_network(mode):
  test_utils.smoketest_learned_optimizer(MnemosyneLOpt(mode=mode, chunk_length=8,
                                                       compute_dtype="bfloat16", **_RULE[mode]))


def test_compute_dtype_is_recorded_and_checked():
  lopt = MnemosyneLOpt(compute_dtype="bfloat16")
  assert lopt.config["compute_dtype"] == "bfloat16"
  assert MnemosyneLOpt(**lopt.config).compute_dtype == jnp.bfloat16
  with pytest.raises(ValueError, match="compute_dtype"):
    MnemosyneLOpt(compute_dtype="float16")

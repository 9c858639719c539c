"""100,000 inner steps (one lax.scan): parameters and CAM memory stay finite and within bounds.

Parameters: v2's step has RMS at most the learning rate per tensor, so RMS(p_t - p_{t-1}) <= lr at
every step (checked at every step in float32; bfloat16's rounding of p is coarser than a step), and on this noisy quadratic the parameters stay
within 10 % (+0.1) of the target's largest entry: nothing drifts away over 100,000 steps.

The bounds are analytic.  Every key feature is at most phi_max = max_w exp(|w| rho - rho^2 / 2) /
sqrt(r) (|k| = rho after ``bounded``), so the normaliser Psi = sum_s e^{-tau (t-s)} phi(k_s) is at
most phi_max / (1 - e^{-tau}); each memory entry N[j, d] = sum_s e^{-tau (t-s)} phi_j(k_s) v_s[d]
is at most Psi_j * max |v[d]|, and v = W_v LN(x) + b_v with |LN(x)_i| <= |gamma_i| sqrt(D) + |beta_i|.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt import pretrained

STEPS = 100_000


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_100k_steps_of_the_pretrained_optimizer_stay_finite_and_bounded(dtype):
  for name, (lopt, theta) in [("pretrained default", pretrained.load_pretrained("default"))]:
    opt = lopt.opt_fn(theta)
    target = {"w": jax.random.normal(jax.random.PRNGKey(1), (24, 16)),
              "b": jax.random.normal(jax.random.PRNGKey(2), (16,))}
    params = jax.tree_util.tree_map(lambda t: jnp.zeros(t.shape, dtype), target)

    def loss(p, key):   # a noisy quadratic: the gradient never settles to zero
      noise = jax.random.normal(key, ())
      return sum(jnp.mean(jnp.square(p[k].astype(jnp.float32) - target[k] * (1 + 0.1 * noise)))
                 for k in p)

    def body(state, key):
      before = opt.get_params(state)
      state = opt.update(state, jax.grad(loss)(before, key))
      after = opt.get_params(state)
      step_rms = jnp.stack([jnp.sqrt(jnp.mean(jnp.square(after[k].astype(jnp.float32)
                                                         - before[k].astype(jnp.float32))))
                            for k in sorted(after)])
      param_rms = jnp.stack([jnp.sqrt(jnp.mean(jnp.square(before[k].astype(jnp.float32))))
                             for k in sorted(after)])
      return state, (step_rms, param_rms)

    run = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.PRNGKey(3), STEPS)))
    state, (step_rms, param_rms) = run(opt.init(params, num_steps=STEPS))
    if dtype == jnp.float32:   # lr (Delta + wd p): RMS <= lr (1 + wd rms(p)), rms(Delta) <= 1
      bound = lopt.learning_rate * (1 + lopt.weight_decay * param_rms)
      assert bool(jnp.all(step_rms <= bound * (1 + 1e-3))), name
    assert int(state.iteration) == STEPS and int(state.skipped_updates) == 0, name
    final = opt.get_params(state)
    for k in final:
      assert final[k].dtype == dtype
      assert bool(jnp.all(jnp.isfinite(final[k].astype(jnp.float32)))), (name, k)
    assert float(loss(final, jax.random.PRNGKey(0))) < float(loss(params, jax.random.PRNGKey(0))), name
    for k in final:
      bound = 1.1 * float(jnp.max(jnp.abs(target[k]))) + 0.1
      assert float(jnp.max(jnp.abs(final[k].astype(jnp.float32)))) <= bound, (name, k)

    w, rho = np.asarray(lopt.cam_projection), lopt.qk_radius
    phi_max = np.max(np.exp(np.linalg.norm(w, axis=-1) * rho - rho ** 2 / 2)) / np.sqrt(2 * w.shape[0])
    psi_max = phi_max / (1.0 - np.exp(-lopt.tau))
    c = jax.tree_util.tree_map(np.asarray, theta["cam"])
    ln_max = np.abs(c["ln"]["scale"]) * np.sqrt(lopt.model_dim) + np.abs(c["ln"]["bias"])
    v_max = ln_max @ np.abs(c["v"]["w"]) + np.abs(c["v"]["b"])
    for k, mem in {"all tensors": state.memory}.items():
      memory, psi = np.asarray(mem.memory), np.asarray(mem.normaliser)
      assert np.all(np.isfinite(memory)) and np.all(np.isfinite(psi)), (name, k)
      assert np.all(psi > 0) and np.max(psi) <= psi_max * (1 + 1e-3), (name, k, np.max(psi), psi_max)
      assert np.all(np.abs(memory) <= psi[..., None] * v_max * (1 + 1e-3) + 1e-6), (name, k)

"""Mechanic (Cutkosky, Defazio and Mehta 2023, arXiv 2306.00144) with a non-finite guard that costs
no pass over the optimizer state.

Mechanic learns one scale S of the whole update of a base optimizer.  With u_t the base update
(optax's sign: the parameters move by +u_t), x_0 the parameters at the first update and
U_t = u_0 + ... + u_{t-1}, the parameters are x_t = x_0 + S_t U_t, where S_t = s_1 + ... + s_n
over betas b_j = 1 - 10^-j (j = 1..n, n = ``num_betas``).  With the gradient g_t at x_t and
mu = ``weight_decay``:

    g~ = g_t + mu S_t (|g_t| / (|x_t| + eps)) x_t,    d_t = (x_0 - x_t) / (S_t + eps)  (= -U_t),
    h = <g~, d_t>,
    m_j <- max(b_j m_j, |h| + eps),   v_j <- b_j^2 v_j + h^2,
    r_j <- b_j r_j + clip(h, -m_j, m_j) s_j        (m_j before its update),
    s_j <- (s_init m_j / n + max(r_j, 0)) / (sqrt(v_j) + eps),
    x_{t+1} = x_0 - S_{t+1} (d_t - u_t),   the returned update x_{t+1} - x_t.

These are the operations of ``optax.contrib.mechanize`` in its order: the same updates up to float
rounding, which Mechanic's recursion amplifies (``tests/test_mechanic.py`` compares the two in
float64; docs/results/eval/mechanic_sensitivity for what rounding does to a long run), with
three differences:

* x_0 starts as zeros of the parameters' shape, not the parameters' own buffers, and the first
  update takes x_0 = x (as ``mechanize`` does), so a jitted step may donate parameters and state;
* a gradient whose norm |g_t| is not finite (a NaN or Inf anywhere, or a sum of squares past
  float32's range) gives a zero update and leaves Mechanic's scalars and x_0 as they were
  (``skipped`` counts such steps, ``count`` does not), with no select over the optimizer state;
  the base optimizer's state is what its own update returns, so give Mechanic a base that skips
  non-finite gradients itself (``mnemosyne_lopt.scale_by_mnemosyne`` does) or wrap the base in
  ``optax.apply_if_finite``.  ``optax.apply_if_finite`` around the whole of Mechanic does the
  same through a ``lax.cond`` that XLA compiles into copies of the whole state: on four
  1024 x 1024 tensors it costs more than Mechanic itself (docs/performance.md);
* parameters narrower than float32 are refused: x_0 - x_t, from which d_t is recovered, is rounded
  to the parameters' float grid, which a bfloat16 parameter's rounding swamps while S is small.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class MechanicState(NamedTuple):
  """The base optimizer's state, Mechanic's scalars per beta (r, m, v, s), x_0 and counters."""
  base_optimizer_state: Any
  count: jax.Array      # updates applied (skipped ones not counted)
  r: jax.Array
  m: jax.Array
  v: jax.Array
  s: jax.Array
  x0: Any               # zeros until the first applied update
  skipped: jax.Array    # updates skipped for a non-finite gradient


def _check_float32(params):
  """Raises one clear error when a floating parameter is narrower than float32."""
  dtypes = {jnp.asarray(x).dtype for x in jax.tree_util.tree_leaves(params)}
  narrow = sorted(str(d) for d in dtypes
                  if jnp.issubdtype(d, jnp.floating) and jnp.finfo(d).bits < 32)
  if narrow:
    raise ValueError(f"Mechanic needs float32 parameters, got {', '.join(narrow)}: keep float32 "
                     "master weights (cast for the forward pass), or use mnemosyne() with a "
                     "learning rate.")


def mechanize(base_optimizer: optax.GradientTransformation, weight_decay: float = 1e-2,
              eps: float = 1e-8, s_init: float = 1e-6, num_betas: int = 6
              ) -> optax.GradientTransformationExtraArgs:
  """``base_optimizer`` with its update's scale learned by Mechanic (module docstring).

  Args:
    base_optimizer: the optax transformation whose updates u_t Mechanic scales; give it a
      schedule of peak 1.0 (its absolute value only rescales what S learns).
    weight_decay: mu, Mechanic's own decay in g~ (not the base optimizer's).
    eps: Mechanic's epsilon.
    s_init: the initial scale, spread over the betas: the first update is s_init u_0.
    num_betas: n, betas 1 - 10^-1 .. 1 - 10^-n.

  Returns:
    ``GradientTransformationExtraArgs``; ``update(grads, state, params, **extra)`` needs the
    parameters and passes ``extra`` (``loss``, say) to the base optimizer.
  """
  base = optax.with_extra_args_support(base_optimizer)
  betas = jnp.asarray([1.0 - 0.1 ** j for j in range(1, num_betas + 1)], jnp.float32)

  def init_fn(params):
    _check_float32(params)
    zeros = lambda: jnp.zeros([num_betas], jnp.float32)   # one buffer each: a step may donate them
    return MechanicState(
        base_optimizer_state=base.init(params), count=jnp.zeros([], jnp.int32), r=zeros(),
        m=zeros(), v=zeros(), s=jnp.full([num_betas], s_init, jnp.float32),
        x0=jax.tree_util.tree_map(jnp.zeros_like, params), skipped=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None, **extra):
    if params is None:
      raise ValueError("Mechanic needs the parameters: call update(grads, state, params).")
    base_updates, base_state = base.update(updates, state.base_optimizer_state, params, **extra)
    grad_norm = optax.tree.norm(updates)
    finite = jnp.isfinite(grad_norm)
    x0 = jax.lax.cond(finite & (state.count == 0), lambda: params, lambda: state.x0)
    s_sum = jnp.sum(state.s)
    decay = weight_decay * s_sum * grad_norm / (optax.tree.norm(params) + eps)
    decayed = jax.tree_util.tree_map(lambda g, x: g + decay * x, updates, params)
    delta_prev = jax.tree_util.tree_map(lambda x, a: (a - x) / (s_sum + eps), params, x0)
    h = optax.tree.vdot(decayed, delta_prev)
    m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
    v = betas ** 2 * state.v + h ** 2
    r = betas * state.r + jnp.clip(h, -state.m, state.m) * state.s
    s = (s_init / num_betas * m + jnp.maximum(r, 0.0)) / (jnp.sqrt(v) + eps)
    s_new = jnp.sum(s)

    def step(x, a, d, u):
      return jnp.where(finite, a - s_new * (d - u) - x, jnp.zeros_like(x))

    out = jax.tree_util.tree_map(step, params, x0, delta_prev, base_updates)
    keep = lambda new, old: jnp.where(finite, new, old)
    ok = finite.astype(jnp.int32)
    return out, MechanicState(
        base_optimizer_state=base_state, count=state.count + ok, r=keep(r, state.r),
        m=keep(m, state.m), v=keep(v, state.v), s=keep(s, state.s), x0=x0,
        skipped=state.skipped + 1 - ok)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)

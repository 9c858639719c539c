"""Compact associative memory (CAM): Mnemosyne's temporal module.

For each stream (a meta-token, or a single coordinate) with input xi_t at optimisation step t,
keys/queries k_t, q_t in R^n, values v_t in R^d and the feature map phi of
``random_features.hyperbolic_features`` (r features):

    N_t   = exp(-tau) N_{t-1}   + phi(k_t) v_t^T            (memory,     [r, d])
    Psi_t = exp(-tau) Psi_{t-1} + phi(k_t)                  (normaliser, [r])
    out_t = N_t^T phi(q_t) / max(phi(q_t)^T Psi_t, eps)

Unrolled, with N_0 = 0 and Psi_0 = 0,

    out_t = sum_{s<=t} e^{-tau (t-s)} phi(q_t)^T phi(k_s) v_s / sum_{s<=t} e^{-tau (t-s)} phi(q_t)^T phi(k_s)

and since E[phi(q)^T phi(k)] = exp(q^T k), out_t estimates causal softmax attention over the whole
history (tau = 0) or a recency-weighted one (tau > 0) while holding O(r d) numbers per stream,
whatever the number of steps (Jain, Choromanski et al., NeurIPS 2023, arXiv 2302.01128).

The state is kept in float32 whatever the dtype of the inputs.  All functions broadcast over any
leading batch shape (the streams).
"""

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class CAMState:
  """Memory of a batch of streams: ``memory`` [..., r, d] and ``normaliser`` [..., r] (float32)."""
  memory: jax.Array
  normaliser: jax.Array


def cam_init(batch_shape, num_features: int, value_dim: int) -> CAMState:
  """Empty memory (N_0 = 0, Psi_0 = 0) for streams of shape ``batch_shape``."""
  batch_shape = tuple(batch_shape)
  return CAMState(
      memory=jnp.zeros(batch_shape + (num_features, value_dim), jnp.float32),
      normaliser=jnp.zeros(batch_shape + (num_features,), jnp.float32))


def cam_update(state: CAMState, key_features: jax.Array, values: jax.Array, tau) -> CAMState:
  """One write: N <- e^{-tau} N + phi(k) v^T,  Psi <- e^{-tau} Psi + phi(k).

  Args:
    state: the memory before step t.
    key_features: phi(k_t), shape [..., r].
    values: v_t, shape [..., d].
    tau: discount (>= 0); a scalar or broadcastable to the batch shape.
  """
  decay = jnp.exp(-jnp.asarray(tau, jnp.float32))
  decay_n = jnp.reshape(decay, jnp.shape(decay) + (1, 1)) if jnp.ndim(decay) else decay
  decay_p = jnp.reshape(decay, jnp.shape(decay) + (1,)) if jnp.ndim(decay) else decay
  key_features = key_features.astype(jnp.float32)
  values = values.astype(jnp.float32)
  return CAMState(
      memory=decay_n * state.memory + key_features[..., :, None] * values[..., None, :],
      normaliser=decay_p * state.normaliser + key_features)


def cam_readout(state: CAMState, query_features: jax.Array, eps: float = 1e-6) -> jax.Array:
  """out = N^T phi(q) / max(phi(q)^T Psi, eps); shape [..., d].  Zero for an empty memory."""
  query_features = query_features.astype(jnp.float32)
  numerator = jnp.einsum("...r,...rd->...d", query_features, state.memory)
  denominator = jnp.sum(query_features * state.normaliser, axis=-1, keepdims=True)
  return numerator / jnp.maximum(denominator, eps)


def cam_step(state: CAMState, key_features, query_features, values, tau, eps: float = 1e-6):
  """Write step t, then read it: returns (new_state, out_t)."""
  new_state = cam_update(state, key_features, values, tau)
  return new_state, cam_readout(new_state, query_features, eps)

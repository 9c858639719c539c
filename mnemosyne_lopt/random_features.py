"""Positive random features for the softmax kernel (Performer, Choromanski et al., ICLR 2021).

The hyperbolic positive random-feature map used by Mnemosyne (PAPER.md, section 2):

    phi(z) = r^{-1/2} exp(-|z|^2 / 2) [exp(w_i^T z), exp(-w_i^T z)]_{i=1..r/2},   w_i ~ N(0, I_n)

satisfies E_w[phi(x)^T phi(y)] = exp(x^T y) (the softmax kernel), and every feature is > 0, so an
attention denominator built from these features never changes sign.

``projection`` (shape [r/2, n]) is drawn once from a seed and then held fixed: it is a buffer of the
optimizer, not a meta-parameter.  With ``orthogonal=True`` the rows are drawn in orthogonal blocks
and rescaled by chi(n)-distributed norms (FAVOR+ "ORF"), which keeps each row marginally N(0, I_n)
(so the estimator stays unbiased) and lowers its variance.
"""

import jax
import jax.numpy as jnp

from mnemosyne_lopt import nn


def draw_projection(key: jax.Array, num_features: int, dim: int, orthogonal: bool = True) -> jax.Array:
  """Draws the fixed projection w (shape [num_features // 2, dim]) of the hyperbolic features.

  Args:
    key: PRNG key.
    num_features: r, the total number of features; must be even (each w_i gives exp(+) and exp(-)).
    dim: n, the dimension of the queries and keys.
    orthogonal: draw rows in orthogonal blocks of size ``dim`` (norms resampled from chi(dim)).
  """
  if num_features <= 0 or num_features % 2:
    raise ValueError(f"num_features must be a positive even number (got {num_features}); "
                     "each random direction gives two features, exp(+w.z) and exp(-w.z).")
  half = num_features // 2
  if not orthogonal:
    return jax.random.normal(key, (half, dim), jnp.float32)
  num_blocks = -(-half // dim)
  block_key, norm_key = jax.random.split(key)
  blocks = []
  for k in jax.random.split(block_key, num_blocks):
    q, _ = jnp.linalg.qr(jax.random.normal(k, (dim, dim), jnp.float32))
    blocks.append(q.T)
  rows = jnp.concatenate(blocks, axis=0)[:half]
  # Unit rows rescaled by the norm of an independent Gaussian vector: marginally N(0, I).
  norms = jnp.linalg.norm(jax.random.normal(norm_key, (half, dim), jnp.float32), axis=-1)
  return rows * norms[:, None]


def hyperbolic_features(z: jax.Array, projection: jax.Array, log_shift: float = 0.0) -> jax.Array:
  """phi(z) for z of shape [..., n]; returns [..., r] with r = 2 * projection.shape[0].

  ``log_shift`` multiplies every feature by exp(-log_shift).  It must be a constant shared by all
  keys that are ever summed together (a per-step shift would rescale what is already stored); on
  the query side any shift cancels in the attention ratio.
  """
  z = z.astype(jnp.float32)
  wz = z @ projection.T
  r = 2 * projection.shape[0]
  base = -0.5 * nn.sum_last(z * z, keepdims=True) - log_shift - 0.5 * jnp.log(float(r))
  return jnp.concatenate([jnp.exp(base + wz), jnp.exp(base - wz)], axis=-1)


def bounded(z: jax.Array, radius: float, eps: float = 1e-6) -> jax.Array:
  """Rescales z [..., n] onto the sphere of the given radius: z * radius / |z|.

  Bounding |q| and |k| bounds every feature by exp(|w| radius - radius^2 / 2) / sqrt(r), which is
  what keeps a memory accumulated over 10^5 steps finite in float32.
  """
  z = z.astype(jnp.float32)
  return z * (radius * jax.lax.rsqrt(nn.sum_last(z * z, keepdims=True) + eps))

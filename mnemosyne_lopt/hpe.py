"""Hierarchical pooling encoding (HPE): Mnemosyne's spatial module.

A tensor of any rank is vectorised and cut into chunks of ``chunk_length`` coordinates (the last
chunk zero-padded and masked).  Each chunk is one token, described by statistics of its
coordinates (computed by the optimizer).  The chunk tokens of a tensor are mixed by a
*bidirectional* Performer layer, i.e. non-causal linear attention with the positive random features
of ``random_features``:

    att_i = sum_j m_j phi(q_i)^T phi(k_j) v_j / max(sum_j m_j phi(q_i)^T phi(k_j), eps)

(m_j = 1 for real chunks, 0 for padding), computed as phi(q_i)^T [sum_j m_j phi(k_j) v_j^T] in
O(S r d) for S chunks.  Two pooling layers then average groups of ``pool_factors[0]`` and
``pool_factors[1]`` neighbouring tokens (masked mean, then a residual feed-forward block), giving
the tensor's *meta-tokens*: meta-token j summarises chunks j*F .. (j+1)*F - 1 with
F = pool_factors[0] * pool_factors[1].  The meta-tokens are the streams of the temporal module (CAM).

Scalars and empty tensors have one chunk (an empty tensor's chunk is fully masked) and therefore one
meta-token.
"""

import math
from typing import Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from mnemosyne_lopt import nn
from mnemosyne_lopt import random_features


def num_chunks(size: int, chunk_length: int) -> int:
  """Chunks of a tensor with ``size`` coordinates: max(1, ceil(size / chunk_length))."""
  return max(1, -(-int(size) // chunk_length))


def num_pooled(length: int, factor: int) -> int:
  return max(1, -(-int(length) // factor))


def num_meta_tokens(size: int, chunk_length: int, pool_factors: Sequence[int]) -> int:
  n = num_chunks(size, chunk_length)
  for f in pool_factors:
    n = num_pooled(n, f)
  return n


def chunk(x: jax.Array, chunk_length: int):
  """Vectorises x and cuts it into [num_chunks, chunk_length]; returns (chunks, mask).

  The padding is zero, so sums over a chunk ignore it.  ``mask`` is a float array, 1 on real
  coordinates and 0 on padding, or None when there is no padding (the reshape is then free).
  """
  size = x.size
  n = num_chunks(size, chunk_length)
  flat = jnp.ravel(x)
  pad = n * chunk_length - size
  if not pad:
    return flat.reshape(n, chunk_length), None
  flat = jnp.pad(flat, (0, pad))
  mask = (np.arange(n * chunk_length) < size).reshape(n, chunk_length).astype(np.float32)
  return flat.reshape(n, chunk_length), jnp.asarray(mask)


def chunk_counts(size: int, chunk_length: int) -> np.ndarray:
  """Real coordinates in each chunk (a static float32 numpy array of length num_chunks)."""
  n = num_chunks(size, chunk_length)
  starts = np.arange(n) * chunk_length
  return np.clip(size - starts, 0, chunk_length).astype(np.float32)


def unchunk(chunks: jax.Array, shape) -> jax.Array:
  """Inverse of ``chunk``: drops the padding and restores ``shape``."""
  size = math.prod(shape)
  return jnp.ravel(chunks)[:size].reshape(shape)


def performer_init(key, dim: int, key_dim: int, hidden: int):
  kq, kk, kv, ko, km = jax.random.split(key, 5)
  return {"ln": nn.layer_norm_init(dim),
          "q": nn.dense_init(kq, dim, key_dim), "k": nn.dense_init(kk, dim, key_dim),
          "v": nn.dense_init(kv, dim, dim), "o": nn.dense_init(ko, dim, dim, scale=0.5),
          "mlp": nn.mlp_init(km, dim, hidden)}


def bidirectional_linear_attention(query_features, key_features, values, mask, eps: float = 1e-6):
  """sum_j m_j phi(q_i)^T phi(k_j) v_j / max(sum_j m_j phi(q_i)^T phi(k_j), eps).

  Shapes: query_features, key_features [S, r]; values [S, d]; mask [S] -> [S, d].
  """
  key_features = key_features * mask[:, None].astype(key_features.dtype)
  kv = key_features.T @ values                      # [r, d]
  z = jnp.sum(key_features, axis=0)                 # [r]
  return (query_features @ kv) / jnp.maximum(query_features @ z, eps)[:, None]


def performer_layer(params, tokens, mask, projection, qk_radius: float):
  """Pre-norm bidirectional Performer block: x + W_o att(LN x), then a residual feed-forward."""
  h = nn.layer_norm(params["ln"], tokens)
  q = random_features.bounded(nn.dense(params["q"], h), qk_radius)
  k = random_features.bounded(nn.dense(params["k"], h), qk_radius)
  v = nn.dense(params["v"], h)
  att = bidirectional_linear_attention(
      random_features.hyperbolic_features(q, projection),
      random_features.hyperbolic_features(k, projection), v, mask)
  x = tokens + nn.dense(params["o"], att.astype(tokens.dtype))   # features are float32
  return nn.residual_mlp(params["mlp"], x)


def pool_init(key, dim: int, hidden: int):
  return nn.mlp_init(key, dim, hidden)


def pool(params, tokens, mask, factor: int):
  """Masked mean over groups of ``factor`` neighbouring tokens, then a residual feed-forward block.

  Returns (pooled [ceil(S / factor), D], pooled mask: a group is real if any member is).
  """
  s, d = tokens.shape
  n = num_pooled(s, factor)
  pad = n * factor - s
  maskf = mask.astype(tokens.dtype)
  if pad:
    tokens = jnp.pad(tokens, ((0, pad), (0, 0)))
    maskf = jnp.pad(maskf, (0, pad))
  tokens = tokens.reshape(n, factor, d)
  maskf = maskf.reshape(n, factor)
  count = jnp.sum(maskf, axis=1, keepdims=True)
  mean = jnp.sum(tokens * maskf[..., None], axis=1) / jnp.maximum(count, 1.0)
  return nn.residual_mlp(params, mean), count[:, 0] > 0


def hpe_init(key, input_dim: int, dim: int, key_dim: int, hidden: int, num_pool_layers: int = 2):
  ke, kp, *kpool = jax.random.split(key, 2 + num_pool_layers)
  return {"embed": nn.dense_init(ke, input_dim, dim),
          "performer": performer_init(kp, dim, key_dim, hidden),
          "pool": [pool_init(k, dim, hidden) for k in kpool]}


def hpe_encode(params, chunk_inputs, chunk_mask, projection, pool_factors: Sequence[int],
               qk_radius: float):
  """Encodes one tensor's chunks.

  Args:
    params: from ``hpe_init``.
    chunk_inputs: [S, input_dim] per-chunk statistics.
    chunk_mask: [S] bool, False for chunks that hold no real coordinate.
    projection: random-feature projection of the Performer layer.
    pool_factors: group sizes of the pooling layers.
    qk_radius: |q| = |k| = qk_radius in the Performer.

  Returns:
    (chunk tokens [S, D] after the Performer, meta-tokens [M, D], meta-token mask [M]).
  """
  tokens = nn.dense(params["embed"], chunk_inputs)
  tokens = performer_layer(params["performer"], tokens, chunk_mask, projection, qk_radius)
  meta, mask = tokens, chunk_mask
  for p, f in zip(params["pool"], pool_factors):
    meta, mask = pool(p, meta, mask, f)
  return tokens, meta, mask


def meta_token_of_chunk(n_chunks: int, pool_factors: Sequence[int]) -> jax.Array:
  """Index of the meta-token that chunk i belongs to: i // prod(pool_factors)."""
  return jnp.arange(n_chunks) // math.prod(pool_factors)

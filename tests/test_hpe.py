"""HPE: chunking of any tensor, masked bidirectional Performer, pooling, meta-tokens."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt import hpe
from mnemosyne_lopt import random_features as rf

D, IN = 8, 5


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (7,), (3, 4), (2, 3, 5), (2, 1, 3, 4, 2)])
def test_chunk_roundtrip_any_rank(shape):
  size = int(np.prod(shape))
  x = jnp.arange(size, dtype=jnp.float32).reshape(shape) + 1
  chunks, mask = hpe.chunk(x, 4)
  assert chunks.shape == (hpe.num_chunks(size, 4), 4)
  counts = hpe.chunk_counts(size, 4)
  assert counts.sum() == size
  if mask is not None:
    np.testing.assert_array_equal(mask.sum(1), counts)
    assert float(jnp.sum(chunks * (1 - mask))) == 0.0   # zero padding
  np.testing.assert_array_equal(hpe.unchunk(chunks, shape), x)


def test_num_meta_tokens():
  assert hpe.num_meta_tokens(0, 256, (4, 4)) == 1
  assert hpe.num_meta_tokens(1, 256, (4, 4)) == 1
  assert hpe.num_meta_tokens(256 * 16, 256, (4, 4)) == 1
  assert hpe.num_meta_tokens(256 * 16 + 1, 256, (4, 4)) == 2
  assert hpe.num_meta_tokens(1024 * 1024, 1024, (4, 4)) == 64
  np.testing.assert_array_equal(hpe.meta_token_of_chunk(35, (4, 4)), np.arange(35) // 16)


def test_bidirectional_attention_matches_explicit_sum():
  s, r, d = 9, 6, 3
  kq, kk, kv = jax.random.split(jax.random.PRNGKey(0), 3)
  pq = jnp.exp(jax.random.normal(kq, (s, r)))
  pk = jnp.exp(jax.random.normal(kk, (s, r)))
  v = jax.random.normal(kv, (s, d))
  mask = jnp.asarray([1, 1, 0, 1, 1, 1, 0, 1, 1], jnp.float32)
  out = hpe.bidirectional_linear_attention(pq, pk, v, mask)
  for i in range(s):
    weights = np.array([float(pq[i] @ pk[j]) * float(mask[j]) for j in range(s)])
    np.testing.assert_allclose(out[i], weights @ np.asarray(v) / weights.sum(), rtol=1e-5)


def test_bidirectional_attention_approaches_softmax_attention():
  s, n = 12, 4
  kq, kk, kv = jax.random.split(jax.random.PRNGKey(1), 3)
  q = rf.bounded(jax.random.normal(kq, (s, n)), 1.0)
  k = rf.bounded(jax.random.normal(kk, (s, n)), 1.0)
  v = jax.random.normal(kv, (s, 2))
  logits = np.asarray(q @ k.T, np.float64)
  a = np.exp(logits)
  exact = a @ np.asarray(v) / a.sum(1, keepdims=True)
  w = rf.draw_projection(jax.random.PRNGKey(2), 8192, n)
  out = hpe.bidirectional_linear_attention(rf.hyperbolic_features(q, w), rf.hyperbolic_features(k, w),
                                           v, jnp.ones((s,)))
  np.testing.assert_allclose(out, exact, atol=0.05)


def _params():
  return hpe.hpe_init(jax.random.PRNGKey(0), IN, D, 4, 16)


def test_padding_does_not_change_the_result():
  params, w = _params(), rf.draw_projection(jax.random.PRNGKey(5), 8, 4)
  real = jax.random.normal(jax.random.PRNGKey(6), (11, IN))
  # the same 11 real chunks, padded with 5 chunks of garbage (masked) in two different ways
  pad_a = jnp.concatenate([real, 100 * jax.random.normal(jax.random.PRNGKey(7), (5, IN))])
  pad_b = jnp.concatenate([real, jnp.zeros((5, IN))])
  mask = jnp.arange(16) < 11
  ta, ma, mka = hpe.hpe_encode(params, pad_a, mask, w, (2, 2), 1.0)
  tb, mb, mkb = hpe.hpe_encode(params, pad_b, mask, w, (2, 2), 1.0)
  np.testing.assert_allclose(ta[:11], tb[:11], rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(mka, mkb)
  np.testing.assert_allclose(ma[:3], mb[:3], rtol=1e-5, atol=1e-6)   # meta-tokens with real chunks
  assert not bool(mka[3])                                              # the all-padding one is masked
  # and without any padding at all: 11 chunks, pooled 11 -> 6 -> 3.
  tc, mc, _ = hpe.hpe_encode(params, real, jnp.ones((11,), bool), w, (2, 2), 1.0)
  np.testing.assert_allclose(tc, ta[:11], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(mc, ma[:3], rtol=1e-5, atol=1e-6)


def test_pool_is_masked_mean_then_feed_forward():
  params = _params()["pool"][0]
  tokens = jax.random.normal(jax.random.PRNGKey(8), (5, D))
  mask = jnp.asarray([True, False, True, True, True])
  pooled, pmask = hpe.pool(params, tokens, mask, 2)
  means = jnp.stack([tokens[0], (tokens[2] + tokens[3]) / 2, tokens[4]])
  from mnemosyne_lopt import nn
  np.testing.assert_allclose(pooled, nn.residual_mlp(params, means), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(pmask, [True, True, True])


def test_encode_single_fully_masked_chunk_is_finite():
  params, w = _params(), rf.draw_projection(jax.random.PRNGKey(5), 8, 4)
  tokens, meta, mask = hpe.hpe_encode(params, jnp.zeros((1, IN)), jnp.zeros((1,), bool), w, (4, 4), 1.0)
  assert tokens.shape == (1, D) and meta.shape == (1, D)
  assert bool(jnp.all(jnp.isfinite(meta))) and not bool(mask[0])

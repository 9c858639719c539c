"""HPE: chunking of any tensor, masked bidirectional Performer, pooling, meta-tokens."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt import hpe
from mnemosyne_lopt import random_features as rf

D, IN = 8, 5


def _reference_chunk_ids(shape, L):
  """Chunk of every coordinate (row-major), from the rule written out with Python integers."""
  shape = tuple(shape)
  c = shape[-1] if shape else 1
  size = int(np.prod(shape))
  ids = []
  for flat in range(size):
    row, col = divmod(flat, c)
    if c >= L:
      ids.append(row * -(-c // L) + col // L)
    else:
      ids.append(row // min(L // c, size // c))
  return np.asarray(ids, np.int64).reshape(shape)


SHAPES = [(), (0,), (3, 0, 2), (7,), (3, 4), (2, 3, 5), (2, 1, 3, 4, 2), (5, 10), (3, 9), (2, 2, 12),
          (16,), (4, 4), (6, 8)]


@pytest.mark.parametrize("shape", SHAPES)
def test_chunk_layout_sums_broadcasts_and_roundtrips(shape):
  L = 4
  layout = hpe.ChunkLayout(shape, L)
  size = int(np.prod(shape))
  x = jnp.arange(size, dtype=jnp.float32).reshape(shape) + 1
  if size == 0:
    assert layout.num_chunks == 1 and layout.counts.tolist() == [0.0]
    assert layout.broadcast(jnp.ones((1,))).shape == shape
    return
  ids = _reference_chunk_ids(shape, L)
  n = int(ids.max()) + 1
  assert layout.num_chunks == n
  np.testing.assert_array_equal(layout.counts, np.bincount(ids.ravel(), minlength=n))
  assert layout.counts.max() <= L
  want_sums = np.bincount(ids.ravel(), weights=np.asarray(x).ravel(), minlength=n)
  sums, squares = layout.sums((layout.view(x), layout.view(x) * layout.view(x)))
  np.testing.assert_allclose(sums, want_sums, rtol=1e-6)
  np.testing.assert_allclose(squares, np.bincount(ids.ravel(), weights=np.asarray(x).ravel() ** 2,
                                                  minlength=n), rtol=1e-6)
  v_sums, v_squares = layout.variadic_sums((layout.view(x), layout.view(x) * layout.view(x)))
  np.testing.assert_allclose(v_sums, want_sums, rtol=1e-6)
  np.testing.assert_allclose(v_squares, squares, rtol=1e-6)
  values = jnp.arange(n, dtype=jnp.float32) * 10
  np.testing.assert_array_equal(layout.broadcast(values), np.asarray(values)[ids])
  chunks = layout.to_chunks(x)
  assert chunks.shape == (n, L)
  np.testing.assert_array_equal(np.sum(chunks != 0, axis=1), layout.counts)   # zero padding
  np.testing.assert_array_equal(layout.from_chunks(chunks), x)


@pytest.mark.parametrize("shape,L", [((64, 2048), 1024), ((128, 256), 1024), ((3000,), 1024),
                                     ((64, 10), 1024), ((8, 8, 64), 128), ((2, 3, 4), 6)])
def test_chunks_are_the_vectorised_tensor_cut_every_L_when_L_and_rows_divide(shape, L):
  ids = _reference_chunk_ids(shape, L)
  c = shape[-1]
  if c % L == 0 or L % c == 0:
    np.testing.assert_array_equal(ids.ravel(), np.arange(ids.size) // L)
  assert hpe.ChunkLayout(shape, L).num_chunks == int(ids.max()) + 1


def test_chunks_follow_rows_when_L_and_row_length_do_not_divide():
  # 1280-wide rows (ViT-H) with L = 1024: pieces of 1024 and 256 per row, never across two rows.
  layout = hpe.ChunkLayout((3, 1280), 1024)
  assert layout.num_chunks == 6 and layout.counts.tolist() == [1024, 256] * 3
  # 10-wide rows: whole rows, floor(1024 / 10) = 102 per chunk.
  layout = hpe.ChunkLayout((784, 10), 1024)
  assert layout.counts.tolist() == [1020] * 7 + [700]


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


def test_segment_attention_equals_attention_within_each_segment():
  r, d, block = 6, 3, 4
  sizes = [8, 4, 12]                   # tokens per segment: whole blocks
  s = sum(sizes)
  kq, kk, kv, km = jax.random.split(jax.random.PRNGKey(3), 4)
  pq = jnp.exp(jax.random.normal(kq, (s, r)))
  pk = jnp.exp(jax.random.normal(kk, (s, r)))
  v = jax.random.normal(kv, (s, d))
  mask = (jax.random.uniform(km, (s,)) > 0.3).astype(jnp.float32).at[0].set(1.0)
  seg = jnp.asarray(np.repeat(np.arange(3), sizes), jnp.int32)
  out = hpe.segment_linear_attention(pq, pk, v, mask, seg, 3, block)
  start = 0
  for size in sizes:
    sl = slice(start, start + size)
    if float(mask[sl].sum()):
      np.testing.assert_allclose(out[sl], hpe.bidirectional_linear_attention(
          pq[sl], pk[sl], v[sl], mask[sl]), rtol=1e-5, atol=1e-6)
    start += size


def test_encoding_several_tensors_together_equals_encoding_each_alone():
  params, w = _params(), rf.draw_projection(jax.random.PRNGKey(5), 8, 4)
  counts = [5, 16, 1]                  # real chunks per tensor; each padded to a multiple of 4
  padded = [8, 16, 4]
  inputs = [jax.random.normal(jax.random.PRNGKey(10 + i), (n, IN)) for i, n in enumerate(counts)]
  batch = jnp.concatenate([jnp.pad(x, ((0, p - n), (0, 0))) for x, n, p in zip(inputs, counts, padded)])
  mask = jnp.asarray(np.concatenate([np.arange(p) < n for n, p in zip(counts, padded)]))
  seg = jnp.asarray(np.repeat(np.arange(3), padded), jnp.int32)
  tokens, meta, meta_mask = hpe.hpe_encode(params, batch, mask, w, (2, 2), 1.0, seg, 3)
  start, mstart = 0, 0
  for x, n, p in zip(inputs, counts, padded):
    t1, m1, _ = hpe.hpe_encode(params, x, jnp.ones((n,), bool), w, (2, 2), 1.0)
    np.testing.assert_allclose(tokens[start:start + n], t1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(meta[mstart:mstart + m1.shape[0]], m1, rtol=1e-5, atol=1e-5)
    assert bool(jnp.all(meta_mask[mstart:mstart + m1.shape[0]]))
    start, mstart = start + p, mstart + p // 4


def test_embedding_with_shared_inputs_equals_dense_on_the_full_rows():
  # Columns 2..4 of every row hold the same values (time features): embedding them once and
  # adding must equal the dense layer on the full, broadcast rows, and so must hpe_encode.
  key = jax.random.PRNGKey(3)
  params = hpe.hpe_init(key, 7, 16, 8, 32)
  own = jax.random.normal(jax.random.fold_in(key, 1), (48, 4))
  shared = jax.random.normal(jax.random.fold_in(key, 2), (3,))
  full = jnp.concatenate([own[:, :2], jnp.broadcast_to(shared, (48, 3)), own[:, 2:]], axis=-1)
  dense = full @ params["embed"]["w"] + params["embed"]["b"]
  np.testing.assert_allclose(hpe.embed(params["embed"], own, shared, [2, 3, 4]), dense, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(hpe.embed(params["embed"], full), dense)
  proj = rf.draw_projection(jax.random.fold_in(key, 4), 16, 8)
  mask = jnp.arange(48) < 45
  a = hpe.hpe_encode(params, full, mask, proj, (4, 4), 1.0)
  b = hpe.hpe_encode(params, own, mask, proj, (4, 4), 1.0, shared_inputs=shared, shared_columns=[2, 3, 4])
  for x, y in zip(a, b):
    np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 16), (5, 1, 32), (2, 40), (1, 16), (10, 4), (7, 3), (33,),
                                   (4, 2, 48)])
def test_variadic_sums_in_lane_groups_equal_the_per_chunk_reference(shape):
  """Chunks of L = 16 coordinates (8 lane groups of 2): pieces with padding, length-1 axes, whole
  rows; against np.bincount over the reference chunk ids."""
  L = 16
  layout = hpe.ChunkLayout(shape, L)
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  ids = _reference_chunk_ids(shape, L).ravel()
  n = layout.num_chunks
  xv = layout.view(x)
  got = layout.variadic_sums((xv, xv * xv, jnp.abs(xv)))
  flat = np.asarray(x).ravel().astype(np.float64)
  for g, w in zip(got, (flat, flat ** 2, np.abs(flat))):
    np.testing.assert_allclose(g, np.bincount(ids, weights=w, minlength=n), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 40), (40,), (2, 2, 35), (5, 17), (1, 24)])
def test_map_sums_without_padding_equal_the_padded_view_sums(shape):
  """Rows cut into pieces whose last one is padded (L = 16): map_sums reads whole and partial
  pieces apart and gives the per-chunk sums of the padded view, checked against np.bincount."""
  L = 16
  layout = hpe.ChunkLayout(shape, L)
  assert layout.pads_pieces
  x = jax.random.normal(jax.random.PRNGKey(1), shape)
  y = jax.random.normal(jax.random.PRNGKey(2), shape)
  got = layout.map_sums(lambda a, b: (a * b, jnp.abs(a)), (x, y))
  ids = _reference_chunk_ids(shape, L).ravel()
  xf, yf = (np.asarray(t).ravel().astype(np.float64) for t in (x, y))
  for g, w in zip(got, (xf * yf, np.abs(xf))):
    np.testing.assert_allclose(g, np.bincount(ids, weights=w, minlength=layout.num_chunks),
                               rtol=1e-5, atol=1e-5)
  # and exactly what variadic_sums of the zero-padded view gives
  want = layout.variadic_sums((layout.view(x) * layout.view(y), jnp.abs(layout.view(x))))
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

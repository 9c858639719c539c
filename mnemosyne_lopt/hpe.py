"""Hierarchical pooling encoding (HPE): Mnemosyne's spatial module.

A tensor of any rank is cut into chunks of at most ``chunk_length`` coordinates that follow its
last axis (``ChunkLayout``: pieces of long rows, or groups of whole short rows; zero-padded and
masked where needed).  Each chunk is one token, described by statistics of its
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


LANE_GROUPS = 8   # ChunkLayout.variadic_sums: groups per chunk added lane by lane
_STACKED_LANE_SUMS = 1 << 16   # _lane_sums: at most this many lanes per output, summed stacked


def _lane_sums(views, lead, width, stacked=False):
  """Sums over the last axis (``width`` long) of arrays of shape ``lead + (width,)``, flattened in
  the row-major order of ``lead``: one variadic reduce over ``LANE_GROUPS`` groups, lane by lane,
  then a sum over the lanes (``ChunkLayout.variadic_sums``).  A tuple of [N] sums, or with
  ``stacked`` one [N, len(views)] array."""
  lead = tuple(d for d in lead if d != 1) or (1,)
  groups = LANE_GROUPS if width % LANE_GROUPS == 0 else 1
  views = tuple(v.reshape(lead + (groups, width // groups)) for v in views)
  zeros = tuple(jnp.zeros((), v.dtype) for v in views)
  add = lambda a, b: tuple(x + y for x, y in zip(a, b))
  lanes = jax.lax.reduce(views, zeros, add, (len(lead),))
  if math.prod(lanes[0].shape) <= _STACKED_LANE_SUMS:
    # Small tensors: one sum over the lanes of all outputs stacked.  XLA:CPU emits each lane sum
    # as two kernels (a reduce-window and a reduce), a fixed cost per output and tensor.
    total = jnp.sum(jnp.stack(lanes, axis=-2), axis=-1).reshape(-1, len(lanes))
    return total if stacked else tuple(total[:, j] for j in range(len(lanes)))
  # Large ones: the stack would be one more pass over the lanes (on GPT-2's token embedding 135 MB).
  sums = tuple(jnp.sum(x, axis=-1).reshape(-1) for x in lanes)
  return jnp.stack(sums, axis=-1) if stacked else sums


class ChunkLayout:
  """How a tensor of ``shape`` is cut into HPE chunks of at most ``chunk_length`` (L) coordinates.

  With C = shape[-1] (a scalar is a [1] vector) and R = size / C rows of the tensor's last axis:

  * C >= L, "pieces": each row is cut into q = ceil(C / L) pieces of L coordinates, the last one
    zero-padded to L when L does not divide C; the chunk view is [*shape[:-1], q, L] and the
    chunks are numbered row-major (the pieces of row 0, then of row 1, ...).
  * C < L, "rows": a chunk is k = min(floor(L / C), R) whole rows; the last of the
    n = ceil(R / k) chunks holds the remaining rows (padded with zero rows); the view is [n, k, C].

  When L divides C or C divides L (the usual case: power-of-two widths, vectors, tensors of at
  most L coordinates) these are exactly the chunks of the vectorised tensor cut every L
  coordinates.  Chunks never straddle rows unevenly, so the view only splits the last axis and
  merges leading ones: a tensor sharded along any axis (data, FSDP or Megatron column/row
  parallel) keeps its sharding in the view, the per-chunk statistics are local sums plus an
  all-reduce, and no device gathers the tensor.  An empty tensor has one chunk with no
  coordinate.
  """

  def __init__(self, shape, chunk_length: int):
    self.shape = tuple(int(d) for d in shape)
    self.chunk_length = L = int(chunk_length)
    self.size = math.prod(self.shape)
    c = self.shape[-1] if self.shape else 1
    self.row_length = c
    self.rows = self.size // c if c else 0
    if self.size == 0:
      self.kind, self.num_chunks = "empty", 1
      self.counts = np.zeros((1,), np.float32)
    elif c >= L:
      self.kind = "pieces"
      self.pieces = -(-c // L)
      self.num_chunks = self.rows * self.pieces
      per_row = np.full((self.pieces,), L, np.float32)
      per_row[-1] = c - (self.pieces - 1) * L
      self.counts = np.tile(per_row, self.rows)
    else:
      self.kind = "rows"
      self.rows_per_chunk = k = min(L // c, self.rows)
      self.num_chunks = -(-self.rows // k)
      self.counts = np.full((self.num_chunks,), k * c, np.float32)
      self.counts[-1] = (self.rows - (self.num_chunks - 1) * k) * c

  @property
  def view_inserts_axis_only(self) -> bool:
    """True when ``view`` only inserts a length-1 axis (one unpadded piece per row: C == L), so the
    view of a tensor is the tensor itself as far as XLA's fusions go."""
    return self.kind == "pieces" and self.pieces == 1 and self.row_length == self.chunk_length

  def view(self, x: jax.Array) -> jax.Array:
    """x (of ``shape``) as [*shape[:-1], q, L] ("pieces") or [n, k, C] ("rows"), zero-padded."""
    if self.kind == "empty":
      return jnp.zeros((1, 1), x.dtype)
    if self.kind == "pieces":
      x = x.reshape(self.shape)
      pad = self.pieces * self.chunk_length - self.row_length
      if pad:
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
      return x.reshape(self.shape[:-1] + (self.pieces, self.chunk_length))
    x = x.reshape(self.rows, self.row_length)
    pad = self.num_chunks * self.rows_per_chunk - self.rows
    if pad:
      x = jnp.pad(x, ((0, pad), (0, 0)))
    return x.reshape(self.num_chunks, self.rows_per_chunk, self.row_length)

  def sums(self, views: Sequence[jax.Array]) -> Tuple[jax.Array, ...]:
    """Per-chunk sums [num_chunks] of several ``view``s: one ``jnp.sum`` over the chunk axes each.

    Separate sums, not one variadic ``lax.reduce``: XLA:CPU hands a plain sum of an elementwise
    product to its vectorised reduction kernels, while a variadic reduce becomes a scalar loop;
    at 4M parameters the five statistics over (p, g, m, v) take 2.24 ms as separate sums and
    4.28 ms as one variadic pass on 2 cores (benchmarks/chunk_sums.py).
    """
    views = tuple(views)
    if self.kind == "empty":
      return tuple(jnp.zeros((1,), v.dtype) for v in views)
    axes = (views[0].ndim - 1,) if self.kind == "pieces" else (1, 2)
    return tuple(jnp.sum(v, axis=axes).reshape(-1) for v in views)

  def variadic_sums(self, views: Sequence[jax.Array], stacked: bool = False):
    """The same sums as ``sums`` from ONE loop over the views, which computes their shared
    elementwise producers once (v2's seven Gram sums over a sqrt and divisions: XLA:CPU's separate
    sums would each recompute them).

    Each chunk's E coordinates are read as ``LANE_GROUPS`` (8) consecutive groups of E / 8: one
    variadic ``lax.reduce`` adds the 8 groups lane by lane (a loop XLA:CPU vectorises over the
    E / 8 lanes, where a reduce over the whole chunk is a scalar loop), then a plain sum over the
    lanes gives the chunk's sums.  Length-1 axes of the view are dropped first.  The view's last
    axis is only split, never merged with another, so a sharded tensor keeps its sharding.  At 4M
    parameters (1024 x 1024 tensors, one core, the other busy) v2's seven sums take 9.4 ms this
    way, 21.3 ms as one reduce over each chunk and 53.8 ms as separate sums
    (``benchmarks/v2_stats_pass.py``).  A tuple of [num_chunks] sums, or with ``stacked`` one
    [num_chunks, len(views)] array."""
    views = tuple(views)
    if self.kind == "empty":
      zeros = jnp.zeros((1, len(views)), views[0].dtype)
      return zeros if stacked else tuple(zeros[:, j] for j in range(len(views)))
    if self.kind == "pieces":
      return _lane_sums(views, views[0].shape[:-1], self.chunk_length, stacked)
    return _lane_sums(views, (self.num_chunks,), self.rows_per_chunk * self.row_length, stacked)

  @property
  def pads_pieces(self) -> bool:
    """True when rows are cut into several pieces and the last one is zero-padded (C % L != 0)."""
    return self.kind == "pieces" and self.row_length % self.chunk_length != 0

  def map_sums(self, fn, xs: Sequence[jax.Array], stacked: bool = False):
    """``variadic_sums(fn(*(view(x) for x in xs)))`` without a padded copy of the inputs.

    ``fn`` maps arrays of a view's shape to a tuple of arrays of that shape, elementwise, with
    fn(0, ..., 0) = 0 (what padding must add to a sum).  Where the last piece of each row is
    padded (``pads_pieces``), the q - 1 whole pieces and the partial last piece are read as two
    slices of the tensor and summed apart, so the zero-padded view is never materialised (on
    768 x 2304 tensors it made the v2 statistics pass 6-9x slower than on unpadded shapes).
    Otherwise the views are materialised first (``optimization_barrier``) unless the view only
    inserts a length-1 axis: see ``MnemosyneLOpt._chunk_sums`` for why.  ``stacked`` as in
    ``variadic_sums``."""
    xs = tuple(xs)
    if not self.pads_pieces:
      views = tuple(self.view(x) for x in xs)
      if not self.view_inserts_axis_only:
        views = jax.lax.optimization_barrier(views)
      return self.variadic_sums(fn(*views), stacked)
    L, q, c = self.chunk_length, self.pieces, self.row_length
    lead = self.shape[:-1]
    rows = max(self.rows, 1)
    xs = tuple(x.reshape(self.shape) for x in xs)
    parts = []
    if q > 1:
      whole = fn(*(x[..., :(q - 1) * L].reshape(lead + (q - 1, L)) for x in xs))
      parts.append(_lane_sums(whole, lead + (q - 1,), L, True).reshape(rows, q - 1, -1))
    last = fn(*(x[..., (q - 1) * L:].reshape(lead + (1, c - (q - 1) * L)) for x in xs))
    parts.append(_lane_sums(last, lead + (1,), c - (q - 1) * L, True).reshape(rows, 1, -1))
    total = jnp.concatenate(parts, axis=1)
    total = total.reshape(-1, total.shape[-1])
    return total if stacked else tuple(total[:, j] for j in range(total.shape[-1]))

  def broadcast(self, values: jax.Array) -> jax.Array:
    """A tensor of ``shape`` whose every coordinate holds its chunk's entry of ``values`` [n]."""
    if self.kind == "empty":
      return jnp.zeros(self.shape, values.dtype)
    if self.kind == "pieces":
      lead = self.shape[:-1]
      full = jnp.broadcast_to(values.reshape(lead + (self.pieces, 1)),
                              lead + (self.pieces, self.chunk_length))
      full = full.reshape(lead + (self.pieces * self.chunk_length,))
      if self.pieces * self.chunk_length != self.row_length:
        full = full[..., :self.row_length]
      return full.reshape(self.shape)
    k, c = self.rows_per_chunk, self.row_length
    full = jnp.broadcast_to(values[:, None, None], (self.num_chunks, k, c)).reshape(-1, c)
    return full[:self.rows].reshape(self.shape)

  def to_chunks(self, x: jax.Array) -> jax.Array:
    """x as [num_chunks, L] (each chunk's coordinates, then zero padding), for per-coordinate CAMs."""
    L = self.chunk_length
    if self.kind == "empty":
      return jnp.zeros((1, L), x.dtype)
    v = self.view(x).reshape(self.num_chunks, -1)
    return v if v.shape[1] == L else jnp.pad(v, ((0, 0), (0, L - v.shape[1])))

  def from_chunks(self, chunks: jax.Array) -> jax.Array:
    """Inverse of ``to_chunks``: drops the padding and restores ``shape``."""
    if self.kind == "empty":
      return jnp.zeros(self.shape, chunks.dtype)
    if self.kind == "pieces":
      lead = self.shape[:-1]
      x = chunks.reshape(lead + (self.pieces * self.chunk_length,))[..., :self.row_length]
      return x.reshape(self.shape)
    k, c = self.rows_per_chunk, self.row_length
    return chunks[:, :k * c].reshape(-1, c)[:self.rows].reshape(self.shape)


def num_pooled(length: int, factor: int) -> int:
  return max(1, -(-int(length) // factor))


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


def segment_linear_attention(query_features, key_features, values, mask, segment_ids,
                             num_segments: int, block: int = 1, eps: float = 1e-6):
  """``bidirectional_linear_attention`` within each segment of a batch of several tensors' tokens.

  Token i attends to the real tokens j of its own segment only:
      att_i = sum_{j: s_j = s_i} m_j phi(q_i)^T phi(k_j) v_j / max(sum_{j: s_j = s_i} m_j phi(q_i)^T phi(k_j), eps)
  computed as phi(q_i)^T KV[s_i] with KV[s] = sum_{j in s} m_j phi(k_j) v_j^T.  Segments are runs
  of whole blocks of ``block`` tokens (``segment_ids`` [S] sorted, constant within each block), so
  KV is summed per block by a batched matmul, then per segment over blocks, and read per block:
  nothing of size [S, r, d] is materialised.
  """
  s, r = key_features.shape
  d = values.shape[-1]
  nb = s // block
  key_features = key_features * mask[:, None].astype(key_features.dtype)
  kf = key_features.reshape(nb, block, r)
  block_kv = jnp.einsum("bjr,bjd->brd", kf, values.reshape(nb, block, d).astype(kf.dtype))
  block_z = jnp.sum(kf, axis=1)
  block_segment = segment_ids.reshape(nb, block)[:, 0]
  kv = jax.ops.segment_sum(block_kv, block_segment, num_segments, indices_are_sorted=True)
  z = jax.ops.segment_sum(block_z, block_segment, num_segments, indices_are_sorted=True)
  qf = query_features.reshape(nb, block, r)
  numerator = jnp.einsum("bjr,brd->bjd", qf, kv[block_segment]).reshape(s, d)
  denominator = jnp.einsum("bjr,br->bj", qf, z[block_segment]).reshape(s)
  return numerator / jnp.maximum(denominator, eps)[:, None]


def performer_layer(params, tokens, mask, projection, qk_radius: float, segment_ids=None,
                    num_segments: int = 1, block: int = 1):
  """Pre-norm bidirectional Performer block: x + W_o att(LN x), then a residual feed-forward.

  With ``segment_ids``, tokens attend within their segment only (``segment_linear_attention``).
  """
  h = nn.layer_norm(params["ln"], tokens)
  q = random_features.bounded(nn.dense(params["q"], h), qk_radius)
  k = random_features.bounded(nn.dense(params["k"], h), qk_radius)
  v = nn.dense(params["v"], h)
  qf = random_features.hyperbolic_features(q, projection)
  kf = random_features.hyperbolic_features(k, projection)
  if segment_ids is None:
    att = bidirectional_linear_attention(qf, kf, v, mask)
  else:
    att = segment_linear_attention(qf, kf, v, mask, segment_ids, num_segments, block)
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


def embed(params, chunk_inputs, shared_inputs=None, shared_columns: Sequence[int] = ()):
  """The dense embedding x W + b of each chunk's input row x.

  With ``shared_inputs`` ([k], the same for every chunk, e.g. time features), x is ``chunk_inputs``
  (the chunk's own columns, in order) with ``shared_inputs`` inserted at the static
  ``shared_columns`` of W's rows, and the shared part is computed once:
      x W + b = x_own W[own rows] + (shared_inputs W[shared rows] + b),
  rather than broadcast to every chunk and multiplied there.
  """
  if shared_inputs is None:
    return nn.dense(params, chunk_inputs)
  w = params["w"]
  shared = np.asarray(shared_columns, int)
  own = np.setdiff1d(np.arange(w.shape[0]), shared)
  return chunk_inputs @ w[own] + (shared_inputs @ w[shared] + params["b"])


def hpe_encode(params, chunk_inputs, chunk_mask, projection, pool_factors: Sequence[int],
               qk_radius: float, segment_ids=None, num_segments: int = 1, shared_inputs=None,
               shared_columns: Sequence[int] = ()):
  """Encodes one tensor's chunks, or several tensors' at once.

  Several tensors: their chunk tokens concatenated, each tensor's padded (masked) to a multiple
  of prod(pool_factors) tokens so that no pooling group spans two tensors, with ``segment_ids``
  naming each token's tensor; the result equals encoding each tensor alone (tests/test_hpe.py).

  Args:
    params: from ``hpe_init``.
    chunk_inputs: [S, input_dim] per-chunk statistics.
    chunk_mask: [S] bool, False for chunks that hold no real coordinate.
    projection: random-feature projection of the Performer layer.
    pool_factors: group sizes of the pooling layers.
    qk_radius: |q| = |k| = qk_radius in the Performer.
    shared_inputs, shared_columns: inputs common to all chunks and where they sit among the
      embedding's input rows (``embed``); ``chunk_inputs`` then holds the other columns only.

  Returns:
    (chunk tokens [S, D] after the Performer, meta-tokens [M, D], meta-token mask [M]).
  """
  tokens = embed(params["embed"], chunk_inputs, shared_inputs, shared_columns)
  tokens = performer_layer(params["performer"], tokens, chunk_mask, projection, qk_radius,
                           segment_ids, num_segments, math.prod(pool_factors))
  meta, mask = tokens, chunk_mask
  for p, f in zip(params["pool"], pool_factors):
    meta, mask = pool(p, meta, mask, f)
  return tokens, meta, mask

"""Property tests (hypothesis) of MnemosyneLOpt's inner optimizer on random parameter pytrees.

Trees: nested dicts, lists and tuples (depth <= 3) holding None (an empty subtree in JAX) and
arrays of rank 0-4, 0-10,000 elements, float32 / bfloat16 / float16.  Both modes run with
chunk_length 16, so that padding, many chunks and several meta-tokens are exercised.

Properties:
  1. init and two updates keep the tree: structure, shapes and dtypes of the parameters; momentum
     and second moment float32 trees of the same structure; CAM memory of the documented shape.
  2. the parameters stay finite, and every coordinate with a non-zero gradient moves in the first
     update (every leaf with a non-zero gradient in the second).
  3. the results do not depend on the insertion order of dict keys (in params or in gradients).
  4. a NaN or +-Inf anywhere in one leaf of the gradient leaves the whole state as it was and
     increments ``skipped_updates``; the next finite gradient is applied again.

Speed: compilation dominates, on CPU a few seconds for each new tensor shape, whether
``opt.update`` is jitted (then once per tree) or called eagerly (then once per primitive and shape,
cached across trees), and mostly per number of chunks.  The updates therefore run eagerly and the
leaf shapes are drawn from a fixed catalogue of edge cases with three chunk counts (1, 19 and 625
chunks: rank 0 to 4, empty, one chunk, padded, exact multiples, several meta-tokens, 10,000
elements); tree structure, dtypes and values are drawn freely.
"""

import dataclasses
import functools
import math
from typing import Tuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import example
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from mnemosyne_lopt import cam
from mnemosyne_lopt.optimizer import MnemosyneLOpt

MODES = ("meta_token", "per_coordinate")
CHUNK_LENGTH = 16    # a multiple of 16: the two-level chunk sum of the default chunk_length 1024
NUM_STEPS = 10
STEP_MULT = 0.05     # steps of ~0.05: visible in bfloat16 (half an ulp of 2.0 is 2^-7) as well.
PARAM_BOUND = 2.0

# The compilation cost is mostly per number of chunks (the HPE network, the head), little per
# shape; the catalogue has three chunk counts with several shapes each.
SHAPES = (
    (),                   # scalar: 1 chunk, 15 of 16 coordinates padding
    (0,),                 # empty: 1 fully masked chunk
    (2, 0, 3, 1),         # empty, rank 4
    (1, 3, 5),            # 15: 1 padded chunk
    (4, 4),               # 16: exactly 1 chunk
    (3, 5, 20),           # 300: 19 chunks, the last padded; 2 meta-tokens, the 2nd of 3 chunks
    (12, 25),             # 300, rank 2
    (10, 10, 10, 10),     # 10,000: exactly 625 chunks; 40 meta-tokens, the last partial
    (9999,),              # 9,999: 625 chunks, the last padded
)
DTYPES = ("float32", "bfloat16", "float16")
KEYS = ("w", "b", "a", "kernel", "bias", "Z", "_x", "10", "9")

SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- random parameter trees ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Leaf:
  """A parameter tensor to be: shape, dtype and the seed of its values (a JAX pytree leaf)."""
  shape: Tuple[int, ...]
  dtype: str
  seed: int

  @property
  def size(self):
    return math.prod(self.shape)

  def np_dtype(self):
    return ml_dtypes.bfloat16 if self.dtype == "bfloat16" else np.dtype(self.dtype)

  def params(self):
    rng = np.random.default_rng([self.seed, 0])
    p = np.clip(rng.normal(size=self.shape), -PARAM_BOUND, PARAM_BOUND)
    return np.asarray(p).astype(self.np_dtype())

  def grad(self, step):
    """|g| in [1e-3, 10] (log-uniform, random sign), with exact zeros in some leaves."""
    rng = np.random.default_rng([self.seed, step + 1])
    g = rng.choice([-1.0, 1.0], size=self.shape) * 10.0 ** rng.uniform(-3, 1, size=self.shape)
    g = np.where(rng.uniform(size=self.shape) < rng.choice([0.0, 0.0, 0.3, 1.0]), 0.0, g)
    return np.asarray(g).astype(self.np_dtype())


leaves_st = st.builds(Leaf, shape=st.sampled_from(SHAPES), dtype=st.sampled_from(DTYPES),
                      seed=st.integers(0, 2**31 - 1))


@st.composite
def spec_trees(draw, max_depth=3, max_leaves=6, root_dict=False):
  """A tree of ``Leaf`` specs and None in dicts, lists and tuples, at most max_depth deep.

  With root_dict the root is a dict of 2 or 3 keys (for the key-order property).
  """
  budget = [max_leaves]

  def node(depth):
    if depth == 0 and root_dict:
      keys = draw(st.lists(st.sampled_from(KEYS), min_size=2, max_size=3, unique=True))
      return {k: node(depth + 1) for k in keys}
    kinds = ["leaf", "none"] + (["dict", "list", "tuple"] if depth < max_depth else [])
    kind = draw(st.sampled_from(kinds)) if budget[0] > 0 else "none"
    if kind == "leaf":
      budget[0] -= 1
      return draw(leaves_st)
    if kind == "none":
      return None
    if kind == "dict":
      keys = draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True))
      return {k: node(depth + 1) for k in keys}        # insertion order as drawn, not sorted
    children = [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
    return children if kind == "list" else tuple(children)

  return node(0)


def reorder(tree, order):
  """The same tree with every dict's keys inserted in another order ("reversed" or "sorted")."""
  if isinstance(tree, dict):
    keys = list(tree)
    keys = keys[::-1] if order == "reversed" else sorted(keys, reverse=True)
    return {k: reorder(tree[k], order) for k in keys}
  if isinstance(tree, (list, tuple)):
    return type(tree)(reorder(c, order) for c in tree)
  return tree


def specs(tree):
  return jax.tree_util.tree_leaves(tree)


def make_params(tree):
  return jax.tree_util.tree_map(lambda s: jnp.asarray(s.params()), tree)


def make_grads(tree, step):
  return jax.tree_util.tree_map(lambda s: jnp.asarray(s.grad(step)), tree)


# A tree holding every dtype, rank 0 and 4, both kinds of empty tensors, the largest tensor, None
# at several depths and every container: run first for every property.
EVERYTHING = {
    "dense": {"kernel": Leaf((10, 10, 10, 10), "float32", 1), "bias": Leaf((4, 4), "bfloat16", 2)},
    "a": [Leaf((), "float16", 3), None, (Leaf((0,), "bfloat16", 4), Leaf((3, 5, 20), "float16", 5))],
    "Z": (None, [Leaf((2, 0, 3, 1), "float32", 6), {"w": Leaf((9999,), "bfloat16", 7), "b": None}]),
}


@functools.lru_cache(maxsize=None)
def optimizer(mode):
  # v2 (the default) has the meta_token mode only; the per_coordinate mode is v1's.
  step = {"rule": "v1", "step_mult": STEP_MULT} if mode == "per_coordinate" else {"learning_rate": STEP_MULT}
  lopt = MnemosyneLOpt(mode=mode, chunk_length=CHUNK_LENGTH, **step)
  return lopt, lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))


def as_np(x):
  return np.asarray(jax.device_get(x)).astype(np.float32)


def assert_trees_equal(a, b):
  """Same structure and the same numbers, compared leaf by leaf at the same key path."""
  flat_a, treedef_a = jax.tree_util.tree_flatten_with_path(a)
  flat_b, treedef_b = jax.tree_util.tree_flatten_with_path(b)
  assert treedef_a == treedef_b
  for (path_a, x), (path_b, y) in zip(flat_a, flat_b):
    assert path_a == path_b
    assert x.dtype == y.dtype and x.shape == y.shape, jax.tree_util.keystr(path_a)
    np.testing.assert_array_equal(as_np(x), as_np(y), err_msg=jax.tree_util.keystr(path_a))


def check_state_layout(lopt, state, spec):
  """Params: the input's structure, shapes and dtypes; m, v: float32 twins; memory per leaf."""
  treedef = jax.tree_util.tree_structure(spec)
  assert jax.tree_util.tree_structure(state.params) == treedef
  for field in ("momentum", "second_moment"):
    assert jax.tree_util.tree_structure(getattr(state, field)) == treedef, field
  for s, p, m, v in zip(specs(spec), *(treedef.flatten_up_to(getattr(state, f))
                                       for f in ("params", "momentum", "second_moment"))):
    assert isinstance(p, jax.Array) and p.shape == s.shape and p.dtype == jnp.dtype(s.dtype), (s, p)
    assert m.shape == v.shape == s.shape and m.dtype == v.dtype == jnp.float32, s
  if lopt.mode == "per_coordinate":   # a CAM per coordinate, laid out like the parameters
    for s, mem in zip(specs(spec), treedef.flatten_up_to(state.memory)):
      assert isinstance(mem, cam.CAMState)
      assert mem.memory.shape == tuple(s.shape) + (lopt.coord_features, lopt.coord_value_dim), s
      assert mem.normaliser.shape == tuple(s.shape) + (lopt.coord_features,), s
    assert state.iteration.dtype == state.skipped_updates.dtype == jnp.int32
    return
  # meta_token mode: one memory for the tree, every tensor's streams (its meta-tokens, counted
  # from its shape by hand here) then padding to a multiple of the automatic stream_multiple.
  mem = state.memory
  assert isinstance(mem, cam.CAMState) and mem.memory.dtype == jnp.float32
  F = lopt.chunks_per_stream
  streams = 0
  for s in specs(spec):
    shape = tuple(s.shape) or (1,)
    last = shape[-1]
    rows = int(np.prod(shape[:-1])) if shape else 1
    if last == 0 or rows == 0:
      chunks = 1                        # an empty tensor: one chunk with no coordinates
    elif last >= lopt.chunk_length:
      chunks = rows * -(-last // lopt.chunk_length)
    else:
      chunks = -(-rows // (lopt.chunk_length // last))
    streams += -(-chunks // F)
  multiple = 1
  while 2 * multiple <= min(streams / 8, 1024):
    multiple *= 2
  total = -(-streams // multiple) * multiple
  assert mem.memory.shape == (total, lopt.cam_features, lopt.model_dim), (mem.memory.shape, total)
  assert mem.normaliser.shape == (total, lopt.cam_features)
  assert state.iteration.dtype == state.skipped_updates.dtype == jnp.int32


# --- properties ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(spec=spec_trees())
@example(spec=EVERYTHING)
def test_updates_keep_the_tree_stay_finite_and_move_the_parameters(mode, spec):
  lopt, opt = optimizer(mode)
  params = make_params(spec)
  state = opt.init(params, num_steps=NUM_STEPS)
  check_state_layout(lopt, state, spec)
  assert_trees_equal(opt.get_params(state), params)

  states = [state]
  for step in range(2):
    states.append(opt.update(states[-1], make_grads(spec, step)))
    check_state_layout(lopt, states[-1], spec)
  assert int(states[-1].iteration) == 2 and int(states[-1].skipped_updates) == 0

  treedef = jax.tree_util.tree_structure(spec)
  per_state = [treedef.flatten_up_to(s.params) for s in states]
  for i, s in enumerate(specs(spec)):
    p0, p1, p2 = (as_np(ps[i]) for ps in per_state)
    for field in ("momentum", "second_moment"):
      assert np.all(np.isfinite(as_np(treedef.flatten_up_to(getattr(states[-1], field))[i])))
    assert np.all(np.isfinite(p1)) and np.all(np.isfinite(p2)), s
    # First update: every coordinate with a gradient moves by ~STEP_MULT (Adam's first step is
    # sign(g) whatever |g|), far more than half an ulp of |p| <= 2 in any of the dtypes.
    g0 = s.grad(0).astype(np.float32)
    moved = p1 != p0
    assert np.all(moved[g0 != 0]), (s, np.argwhere(~moved & (g0 != 0))[:5])
    # Second update: the step mixes its directions with learned coefficients and may cancel for a
    # coordinate; the leaf as a whole moves.
    if np.any(s.grad(1) != 0):
      assert np.any(p2 != p1), s


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(spec=spec_trees(root_dict=True))
@example(spec=EVERYTHING)
def test_results_do_not_depend_on_dict_key_order(mode, spec):
  _, opt = optimizer(mode)
  orders = {"drawn": spec, "reversed": reorder(spec, "reversed"), "sorted": reorder(spec, "sorted")}
  finals = {}
  # Params and gradients in different insertion orders, also different from each other.
  for p_order, g_order in (("drawn", "drawn"), ("reversed", "sorted"), ("sorted", "drawn")):
    state = opt.init(make_params(orders[p_order]), num_steps=NUM_STEPS)
    for step in range(2):
      state = opt.update(state, make_grads(orders[g_order], step))
    finals[p_order, g_order] = state
  reference = finals["drawn", "drawn"]
  for state in finals.values():
    for field in ("params", "momentum", "second_moment", "memory", "iteration", "skipped_updates"):
      assert_trees_equal(getattr(state, field), getattr(reference, field))


def _has_nonempty_leaf(tree):
  return any(s.size > 0 for s in specs(tree))


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(spec=spec_trees().filter(_has_nonempty_leaf), data=st.data())
@example(spec=EVERYTHING, data=None)
def test_non_finite_gradient_in_one_leaf_skips_the_update(mode, spec, data):
  _, opt = optimizer(mode)
  leaves = specs(spec)
  candidates = [i for i, s in enumerate(leaves) if s.size > 0]
  if data is None:        # the explicit example: last coordinate of the first non-empty leaf
    which, position, bad = candidates[0], leaves[candidates[0]].size - 1, np.nan
  else:
    which = data.draw(st.sampled_from(candidates), label="leaf")
    position = data.draw(st.integers(0, leaves[which].size - 1), label="position")
    bad = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="value")

  treedef = jax.tree_util.tree_structure(spec)
  state = opt.init(make_params(spec), num_steps=NUM_STEPS)
  state = opt.update(state, make_grads(spec, 0))
  grads = [s.grad(1) for s in leaves]
  grads[which] = grads[which].copy()
  grads[which].reshape(-1)[position] = bad
  bad_grads = treedef.unflatten([jnp.asarray(g) for g in grads])

  after = opt.update(state, bad_grads)
  assert int(after.skipped_updates) == int(state.skipped_updates) + 1 == 1
  for field in ("params", "momentum", "second_moment", "memory", "iteration"):
    assert_trees_equal(getattr(after, field), getattr(state, field))

  resumed = opt.update(after, make_grads(spec, 1))
  assert int(resumed.iteration) == 2 and int(resumed.skipped_updates) == 1
  assert all(np.all(np.isfinite(as_np(p))) for p in jax.tree_util.tree_leaves(resumed.params))

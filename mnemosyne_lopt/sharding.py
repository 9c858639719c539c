"""Shardings for Mnemosyne's state when the parameters live on a ``jax.sharding.Mesh``.

Mnemosyne's state is laid out so that every part of it divides over the mesh like the parameters:

* ``momentum`` m and ``second_moment`` v (float32 trees like the parameters), and in per_coordinate
  mode the coordinate CAM memories (p.shape + (r, d) per tensor), are sharded exactly like the
  parameter they belong to (data-parallel: replicated; FSDP: the same dimension split;
  tensor-parallel: the same PartitionSpec, the CAM's trailing axes unsplit);
* the meta-token CAM memory, ONE array [S, r, d] (and normaliser [S, r]) for the whole tree, is
  split along its stream axis S over as many mesh devices as divide S (``stream_axes``; the
  optimizer pads S to a multiple of ``MnemosyneLOpt.stream_multiple``, by default a power of two
  up to 1024, so a large model's memory divides over any power-of-two mesh); the CAM step is
  elementwise over streams, so each device updates its own streams;
* ``chunk_moments`` [C, 2] (per-chunk sums of m^2 and v, C a multiple of S) is split along C
  the same way (``stream_axes(C)``);
* the int32 counters are replicated.

``state_shardings`` builds that tree of ``NamedSharding`` for a state of ``MnemosyneLOpt``'s inner
optimizer, of the optax adapter, or of any optax chain that holds them (any sub-tree shaped like
the parameters, such as Adam's mu/nu, gets the parameters' shardings):

    param_shardings = {"w": NamedSharding(mesh, P(None, "model")), ...}
    params = jax.device_put(params, param_shardings)
    opt_state = shard_like_params(tx.init(params), param_shardings)
    step = jax.jit(train_step, out_shardings=(param_shardings, state_shardings(opt_state, param_shardings)),
                   donate_argnums=(0, 1))
"""

import itertools
import math
from typing import Any, Mapping, Tuple

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from mnemosyne_lopt import cam
from mnemosyne_lopt.optax_adapter import MnemosyneOptaxState
from mnemosyne_lopt.optimizer import MnemosyneState


def _ndim(x) -> int:
  return len(getattr(x, "shape", ()))


def _is_sharding(x) -> bool:
  return isinstance(x, jax.sharding.Sharding)


def stream_axes(num_streams: int, axis_sizes: Mapping[str, int]) -> Tuple[str, ...]:
  """The mesh axes that split the meta-token CAM memory's stream axis: of all sets of mesh axes
  (of size > 1) whose product of sizes divides ``num_streams``, the one with the largest product
  (ties: fewer axes, then mesh order).  () means replicated.

  >>> stream_axes(1024, {"data": 16, "model": 16})
  ('data', 'model')
  >>> stream_axes(40, {"data": 16, "model": 4})
  ('model',)
  """
  names = [a for a, n in axis_sizes.items() if n > 1]
  best, best_size = (), 1
  for k in range(1, len(names) + 1):
    for combo in itertools.combinations(names, k):
      size = math.prod(axis_sizes[a] for a in combo)
      if num_streams % size == 0 and size > best_size:
        best, best_size = combo, size
  return best


def _padded_spec(sharding: NamedSharding, ndim: int, extra: int) -> NamedSharding:
  """``sharding``'s spec for a tensor of rank ``ndim``, followed by ``extra`` unsplit axes."""
  spec = tuple(sharding.spec) + (None,) * (ndim - len(sharding.spec) + extra)
  return NamedSharding(sharding.mesh, P(*spec))


def _replicated_like(param_shardings) -> NamedSharding:
  leaves = jax.tree_util.tree_leaves(param_shardings, is_leaf=_is_sharding)
  named = [s for s in leaves if isinstance(s, NamedSharding)]
  if not named:
    raise TypeError("state_shardings needs the parameters' shardings as jax.sharding.NamedSharding "
                    "(a Mesh and a PartitionSpec per parameter).")
  return NamedSharding(named[0].mesh, P())


def state_shardings(opt_state: Any, param_shardings: Any) -> Any:
  """A tree of ``NamedSharding`` with the structure of ``opt_state``.

  Args:
    opt_state: a ``MnemosyneState``, a ``MnemosyneOptaxState`` (``to_optax``), or any pytree holding
      them (optax chain / MultiSteps states); concrete arrays or ``jax.ShapeDtypeStruct``s.
    param_shardings: the parameters' tree with a ``NamedSharding`` per leaf.

  Returns:
    momentum / second_moment (and ``params`` where the state holds them, and any other sub-tree
    with the parameters' structure) sharded like the parameters; the CAM memory and the chunk
    moments as the module docstring says; counters and every other leaf replicated over the
    parameters' mesh.
  """
  replicated = _replicated_like(param_shardings)
  params_def = jax.tree_util.tree_structure(param_shardings, is_leaf=_is_sharding)
  rep = lambda tree: jax.tree_util.tree_map(lambda _: replicated, tree)

  def like_params(node) -> bool:
    try:
      return (not isinstance(node, (MnemosyneState, MnemosyneOptaxState)) and
              jax.tree_util.tree_structure(node) == params_def)
    except Exception:  # pylint: disable=broad-except
      return False

  mesh = replicated.mesh
  flat_shardings = params_def.flatten_up_to(param_shardings)

  def rows_split(num_rows):
    """An array's leading axis of num_rows split over the mesh axes that divide it."""
    axes = stream_axes(num_rows, dict(mesh.shape))
    return NamedSharding(mesh, P(axes if axes else None))

  def memory_shardings(memory, momentum):
    if isinstance(memory, cam.CAMState):      # meta_token mode: [S, r, d], split on S
      split = rows_split(memory.memory.shape[0])
      return cam.CAMState(memory=split, normaliser=split)
    # per_coordinate mode: a CAMState per parameter (a tree like the parameters, or the optax
    # adapter's flat list of them), laid out like its parameter.
    ndims = [_ndim(m) for m in params_def.flatten_up_to(momentum)]
    out = [cam.CAMState(memory=_padded_spec(s, n, 2), normaliser=_padded_spec(s, n, 1))
           for s, n in zip(flat_shardings, ndims)]
    return out if isinstance(memory, list) else params_def.unflatten(out)

  def visit(node):
    if isinstance(node, MnemosyneOptaxState):
      return node.replace(inner=visit(node.inner))
    if isinstance(node, MnemosyneState):
      return MnemosyneState(
          params=None if node.params is None else param_shardings, state=rep(node.state),
          momentum=param_shardings, second_moment=param_shardings,
          chunk_moments=(None if node.chunk_moments is None
                         else rows_split(node.chunk_moments.shape[0])),
          memory=memory_shardings(node.memory, node.momentum),
          iteration=replicated, num_steps=replicated, skipped_updates=replicated,
          step_scales=rep(node.step_scales))
    if like_params(node):
      return param_shardings
    return replicated

  is_leaf = lambda x: isinstance(x, (MnemosyneState, MnemosyneOptaxState)) or like_params(x)
  return jax.tree_util.tree_map(visit, opt_state, is_leaf=is_leaf)


def shard_like_params(opt_state: Any, param_shardings: Any) -> Any:
  """``opt_state`` placed on the devices by ``state_shardings(opt_state, param_shardings)``."""
  return jax.device_put(opt_state, state_shardings(opt_state, param_shardings))

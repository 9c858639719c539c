"""Shardings for Mnemosyne's state when the parameters live on a ``jax.sharding.Mesh``.

Mnemosyne's per-coordinate state (``momentum`` m and ``second_moment`` v, float32 trees like the
parameters) should be laid out exactly like the parameters it belongs to (data-parallel: replicated;
FSDP: the same dimension split; tensor-parallel: the same PartitionSpec), and everything else (the
CAM memories, [meta-tokens, r, d] per tensor: 64 x 17 floats per 16 chunks; the int32 counters) is
small and replicated.  ``state_shardings`` builds that tree of ``NamedSharding`` for a state of
``MnemosyneLOpt``'s inner optimizer, of the optax adapter, or of any optax chain that holds them
(any sub-tree shaped like the parameters, such as Adam's mu/nu, gets the parameters' shardings):

    param_shardings = {"w": NamedSharding(mesh, P(None, "model")), ...}
    params = jax.device_put(params, param_shardings)
    opt_state = shard_like_params(tx.init(params), param_shardings)
    step = jax.jit(train_step, out_shardings=(param_shardings, state_shardings(opt_state, param_shardings)),
                   donate_argnums=(0, 1))
"""

from typing import Any

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from mnemosyne_lopt.optax_adapter import MnemosyneOptaxState
from mnemosyne_lopt.optimizer import MnemosyneState


def _is_sharding(x) -> bool:
  return isinstance(x, jax.sharding.Sharding)


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
    with the parameters' structure) sharded like the parameters; CAM memories, counters and every
    other leaf replicated over the parameters' mesh.
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

  def visit(node):
    if isinstance(node, MnemosyneOptaxState):
      return node.replace(inner=visit(node.inner))
    if isinstance(node, MnemosyneState):
      return MnemosyneState(
          params=None if node.params is None else param_shardings, state=rep(node.state),
          momentum=param_shardings, second_moment=param_shardings, memory=rep(node.memory),
          iteration=replicated, num_steps=replicated, skipped_updates=replicated)
    if like_params(node):
      return param_shardings
    return replicated

  is_leaf = lambda x: isinstance(x, (MnemosyneState, MnemosyneOptaxState)) or like_params(x)
  return jax.tree_util.tree_map(visit, opt_state, is_leaf=is_leaf)


def shard_like_params(opt_state: Any, param_shardings: Any) -> Any:
  """``opt_state`` placed on the devices by ``state_shardings(opt_state, param_shardings)``."""
  return jax.device_put(opt_state, state_shardings(opt_state, param_shardings))

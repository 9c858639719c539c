"""Mnemosyne as an optax ``GradientTransformation``: a drop-in for ``optax.adam`` in flax loops.

    tx = mnemosyne_lopt.to_optax(lopt, theta, num_steps=10_000)   # or mnemosyne_lopt.pretrained(10_000)
    opt_state = tx.init(params)
    updates, opt_state = tx.update(grads, opt_state, params, loss=loss)   # loss is optional
    params = optax.apply_updates(params, updates)

learned_optimization's inner optimizer keeps the parameters inside its state; optax's convention is
that the caller owns them.  The adapter therefore stores Mnemosyne's state *without* the parameters
(``MnemosyneOptaxState.inner.params is None``: no second copy of the model in the optimizer state,
nothing stale to checkpoint) and, at every update, puts the ``params`` it is given back in
(``set_params``), runs Mnemosyne's update and returns

    updates = new_params - params            (in each parameter's dtype),

so ``optax.apply_updates(params, updates)`` gives Mnemosyne's new parameters (up to one rounding
of the subtraction).  ``params`` is therefore required, as for ``optax.add_decayed_weights``.

Everything in the state is a jax array in a flax struct, so it works under ``jax.jit`` (with the
state and parameters donated), inside ``optax.chain`` / ``optax.MultiSteps``, and saves and restores
with orbax.  A gradient holding NaN or Inf gives zero updates and leaves the state as it was, apart
from ``inner.skipped_updates`` which counts it (Mnemosyne's own rule).
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from mnemosyne_lopt.cam import CAMState
from mnemosyne_lopt.optimizer import MnemosyneLOpt, MnemosyneState


@flax.struct.dataclass
class MnemosyneOptaxState:
  """optax state of the adapter: Mnemosyne's ``MnemosyneState`` with ``params=None``.

  ``inner.momentum`` / ``inner.second_moment`` mirror the parameter tree (float32);
  ``inner.memory`` is the tree's meta-token CAM memory (one ``CAMState``, [S, r, d]) or, in
  per_coordinate mode, the list of per-parameter ``CAMState``s in ``jax.tree_util`` leaf order (a
  flat list, so that containers such as flax nnx's ``State``, which rebuild nested pytrees as
  their own type, cannot turn a ``CAMState`` into a mapping);
  ``inner.iteration`` / ``num_steps`` / ``skipped_updates`` are int32 scalars.
  """
  inner: MnemosyneState


def _require_params(params):
  if params is None:
    raise ValueError("Mnemosyne's optax update needs the current parameters: call "
                         "tx.update(grads, state, params) (and put it after no transformation "
                         "that drops params).")


def to_optax(lopt: MnemosyneLOpt, theta: Any, num_steps: int
             ) -> optax.GradientTransformationExtraArgs:
  """Mnemosyne with meta-parameters ``theta`` as an optax transformation.

  Args:
    lopt: the ``MnemosyneLOpt`` (any learned_optimization ``LearnedOptimizer`` whose inner
      optimizer has ``set_params`` works the same way).
    theta: its meta-parameters (``lopt.init(key)``, ``load_theta(...)`` or ``load_pretrained``).
    num_steps: planned length of training T (Mnemosyne's time features use t / T).

  Returns:
    ``GradientTransformationExtraArgs`` whose ``update(grads, state, params, *, loss=None,
    **extra)`` returns (updates = new_params - params, new state); ``loss`` is handed to the inner
    optimizer's update, other extra arguments (from ``optax.chain``) are ignored.
  """
  if isinstance(num_steps, (int, float)) and num_steps <= 0:
    raise ValueError(f"num_steps must be a positive number of training steps, got {num_steps}.")
  opt = lopt.opt_fn(theta)

  def pack(inner, params):
    memory = inner.memory
    if not isinstance(memory, CAMState):
      memory = list(jax.tree_util.tree_structure(params).flatten_up_to(memory))
    return MnemosyneOptaxState(inner=inner.replace(params=None, state=None, memory=memory))

  def init_fn(params):
    return pack(opt.init(params, num_steps=num_steps), params)

  def update_fn(updates, state, params=None, *, loss=None, **extra):
    del extra
    _require_params(params)
    memory = state.inner.memory
    if isinstance(memory, list):
      memory = jax.tree_util.tree_structure(params).unflatten(memory)
    inner = opt.set_params(state.inner.replace(memory=memory), params)
    inner = opt.update(inner, updates, loss=loss)
    new_params = opt.get_params(inner)
    deltas = jax.tree_util.tree_map(
        lambda new, old: (jnp.asarray(new) - jnp.asarray(old)).astype(jnp.asarray(old).dtype),
        new_params, params)
    return deltas, pack(inner, params)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def pretrained(num_steps: int, name: str = "default") -> optax.GradientTransformationExtraArgs:
  """The shipped pretrained Mnemosyne ``name`` as an optax transformation (``load_pretrained``)."""
  from mnemosyne_lopt.pretrained import load_pretrained  # pylint: disable=g-import-not-at-top
  lopt, theta = load_pretrained(name)
  return to_optax(lopt, theta, num_steps)

"""Mnemosyne as optax transformations: a drop-in for ``optax.adamw`` in flax loops.

The v2 rule (``MnemosyneLOpt(rule="v2")``, the default) splits like any optax optimizer into a
direction and a learning rate:

    tx = mnemosyne_lopt.mnemosyne(learning_rate=3e-3, weight_decay=0.1)
       = optax.chain(mnemosyne_lopt.scale_by_mnemosyne(),
                     optax.add_decayed_weights(0.1),
                     optax.scale_by_learning_rate(3e-3))
    updates, opt_state = tx.update(grads, opt_state, params)     # loss= is accepted, not needed
    params = optax.apply_updates(params, updates)

``scale_by_mnemosyne`` returns Delta, whose RMS over every tensor is s <= 1 (the learned
tensor scale; the module docstring of ``mnemosyne_lopt.optimizer`` has the equations), so the
learning rate, a float or any optax schedule, sets the step's size exactly as for Adam.  Its state
holds m, v (float32 trees like the parameters), the CAM memory and counters; no parameters.  A
gradient with NaN or Inf anywhere gives Delta = 0 and leaves that state as it was apart from
``skipped_updates`` (a decayed-weights term later in the chain still applies).

``to_optax(lopt, theta, num_steps)`` wraps any learned_optimization ``LearnedOptimizer`` whose inner
optimizer has ``set_params`` (v1 Mnemosyne included): learned_optimization's inner optimizer keeps
the parameters inside its state, optax's caller owns them, so the adapter stores the state
*without* the parameters, puts the ``params`` it is given back in at every update (``params`` is
therefore required), runs the update and returns

    updates = new_params - params            (in each parameter's dtype).

Everything in the states is a jax array in a flax struct, so both work under ``jax.jit`` (with
state and parameters donated), inside ``optax.chain`` / ``optax.MultiSteps``, and save and restore
with orbax.
"""

import json
from typing import Any, Callable, Optional, Union

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnemosyne_lopt import mechanic
from mnemosyne_lopt import schedules
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
    lopt: the ``MnemosyneLOpt``, or any other learned_optimization ``LearnedOptimizer`` whose
      inner optimizer's state is a flax dataclass with ``params`` and ``state`` fields and which
      has ``set_params`` (``Celo2StyleLOpt``; its state is kept as ``inner`` the same way).
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
    if not hasattr(inner, "memory"):          # not Mnemosyne: no CAM memory to flatten
      return MnemosyneOptaxState(inner=inner.replace(params=None, state=None))
    memory = inner.memory
    if not isinstance(memory, CAMState):
      memory = list(jax.tree_util.tree_structure(params).flatten_up_to(memory))
    return MnemosyneOptaxState(inner=inner.replace(params=None, state=None, memory=memory))

  def init_fn(params):
    return pack(opt.init(params, num_steps=num_steps), params)

  def update_fn(updates, state, params=None, *, loss=None, **extra):
    del extra
    _require_params(params)
    inner = state.inner
    if isinstance(getattr(inner, "memory", None), list):
      inner = inner.replace(memory=jax.tree_util.tree_structure(params).unflatten(inner.memory))
    inner = opt.set_params(inner, params)
    inner = opt.update(inner, updates, loss=loss)
    new_params = opt.get_params(inner)
    deltas = jax.tree_util.tree_map(
        lambda new, old: (jnp.asarray(new) - jnp.asarray(old)).astype(jnp.asarray(old).dtype),
        new_params, params)
    return deltas, pack(inner, params)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


DEFAULT_WEIGHT_DECAY = 0.1   # mnemosyne()'s decoupled weight decay (docs/results/eval/weight_decay_selection)
# mnemosyne()'s learning rate with the pretrained "default" ("orthogonal"), chosen for that theta on
# tasks outside held_out (docs/results/eval/learning_rate_selection_orthogonal).
DEFAULT_LEARNING_RATE = 3e-3
# The rate every shipped v2 theta was meta-trained at, which load_pretrained()'s MnemosyneLOpt keeps:
# mnemosyne()'s with any other theta (the pretrained "plain", whose own selection kept it:
# docs/results/eval/learning_rate_selection; a theta of one's own).
META_TRAINED_LEARNING_RATE = 1e-3


def default_learning_rate(name: str = "default", theta: Any = None) -> float:
  """The learning rate ``mnemosyne(name=name, theta=theta)`` takes when none is given:
  ``DEFAULT_LEARNING_RATE`` (3e-3) for the pretrained "default" ("orthogonal") loaded by name,
  ``META_TRAINED_LEARNING_RATE`` (1e-3) for every other theta."""
  from mnemosyne_lopt.pretrained import resolve  # pylint: disable=g-import-not-at-top
  if theta is None and resolve(name) == resolve("default"):
    return DEFAULT_LEARNING_RATE
  return META_TRAINED_LEARNING_RATE


def _require_static(value, name):
  """A clear error for an argument fixed at construction that arrives as a JAX array (as
  ``optax.inject_hyperparams`` passes every numeric argument unless told otherwise)."""
  if isinstance(value, jax.Array):
    raise ValueError(f"{name} must be a Python number fixed when the optimizer is built, got a JAX "
                     f"array; with optax.inject_hyperparams pass static_args=({name!r},).")


def _check_num_steps(num_steps):
  _require_static(num_steps, "num_steps")
  if num_steps is not None and (not isinstance(num_steps, (int, np.integer)) or num_steps <= 0):
    raise ValueError(f"num_steps must be a positive integer number of training steps, or None when "
                     f"it is not known, got {num_steps!r}.")


_DIRECTIONS = {}


def _jitted_directions(learned_opt: MnemosyneLOpt):
  """``jax.jit(learned_opt.directions)``, one per optimizer configuration.

  Called outside jit (a first try in a notebook), the update then compiles once as a whole instead
  of dispatching and compiling its few hundred operations one by one; inside the caller's jit it
  is traced inline as before.  Keyed by the configuration, so that optimizers rebuilt with the
  same arguments (``optax.inject_hyperparams`` rebuilds at every update) share one compilation.
  """
  key = json.dumps(learned_opt.config, sort_keys=True, default=repr)
  if key not in _DIRECTIONS:
    _DIRECTIONS[key] = jax.jit(learned_opt.directions)
  return _DIRECTIONS[key]


def scale_by_mnemosyne(theta: Any = None, name: str = "default", num_steps: Optional[int] = None,
                       learned_opt: Optional[MnemosyneLOpt] = None,
                       max_adam_ratio: Optional[float] = None,
                       orthogonalize: Optional[bool] = None,
                       init_scale_reference: Optional[float] = None
                       ) -> optax.GradientTransformationExtraArgs:
  """Mnemosyne v2's normalised step Delta, to chain with a learning rate (module docstring).

  Args:
    theta: meta-parameters; None (default) loads the shipped pretrained optimizer ``name``.
    name: which shipped pretrained optimizer (``mnemosyne_lopt.pretrained.available()``).
    num_steps: planned number of training steps T (the network sees t / T); None if unknown.
    learned_opt: the ``MnemosyneLOpt`` that ``theta`` belongs to (default: the one shipped with
      ``name`` when ``theta`` is None, else ``MnemosyneLOpt()``).
    max_adam_ratio: if given, c: no tensor's step has an RMS above c times that of Adam's direction
      m_hat / (sqrt(v_hat) + eps) (``MnemosyneLOpt(max_adam_ratio=c)``); None keeps the learned
      optimizer's own setting (the shipped ones: no such bound).
    orthogonalize: True replaces the step of every matrix-like tensor by its polar factor at the
      same RMS (``MnemosyneLOpt(orthogonalize=True)``: Muon's Newton-Schulz iteration, before the
      per-coordinate bound); None keeps the learned optimizer's own setting (the shipped
      "default": True; "plain": False).
    init_scale_reference: rho: each matrix-like tensor's step is multiplied by
      f = max(1, rms(p_0) / rho), p_0 the tensor given to ``init`` (``MnemosyneLOpt(
      init_scale_reference=rho)``); None keeps the learned optimizer's own setting (the shipped
      ones: off).

  Returns:
    ``GradientTransformationExtraArgs``: ``update(grads, state, params=None, **extra)`` gives
    (Delta, new state); Delta is float32 per tensor cast to the gradient's dtype, its RMS over each
    tensor at most 1 (at most f with ``init_scale_reference``); ``params`` and extra arguments
    (``loss``) are accepted and not used.
  """
  _check_num_steps(num_steps)
  if theta is None:
    from mnemosyne_lopt.pretrained import load_pretrained  # pylint: disable=g-import-not-at-top
    loaded, theta = load_pretrained(name)
    learned_opt = learned_opt or loaded
  learned_opt = learned_opt or MnemosyneLOpt()
  _require_static(max_adam_ratio, "max_adam_ratio")
  _require_static(orthogonalize, "orthogonalize")
  _require_static(init_scale_reference, "init_scale_reference")
  overrides = {k: v for k, v in (("max_adam_ratio", max_adam_ratio),
                                 ("orthogonalize", orthogonalize),
                                 ("init_scale_reference", init_scale_reference)) if v is not None}
  if overrides:
    learned_opt = MnemosyneLOpt(**{**learned_opt.config, **overrides})
  if learned_opt.rule != "v2":
    raise ValueError(f"scale_by_mnemosyne needs a rule='v2' Mnemosyne (its step is normalised so "
                     f"that the learning rate is the user's); {name!r} has rule="
                     f"{learned_opt.rule!r}: use to_optax(lopt, theta, num_steps) for it.")
  opt = learned_opt.opt_fn(theta)
  directions = _jitted_directions(learned_opt)

  def init_fn(params):
    return opt.init(params, num_steps=num_steps).replace(params=None, state=None)

  def update_fn(updates, state, params=None, **extra):
    del params, extra
    deltas, state = directions(theta, state, updates)
    deltas = jax.tree_util.tree_map(lambda d, g: d.astype(jnp.asarray(g).dtype), deltas, updates)
    return deltas, state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def mnemosyne(learning_rate: Union[None, float, Callable[[jax.Array], jax.Array]] = None,
              weight_decay: float = DEFAULT_WEIGHT_DECAY, num_steps: Optional[int] = None,
              name: str = "default",
              theta: Any = None, learned_opt: Optional[MnemosyneLOpt] = None,
              max_adam_ratio: Optional[float] = None, orthogonalize: Optional[bool] = None,
              init_scale_reference: Optional[float] = None
              ) -> optax.GradientTransformationExtraArgs:
  """The shipped pretrained Mnemosyne v2 as a complete optimizer, shaped like ``optax.adamw``:

      chain(scale_by_mnemosyne(theta, name, num_steps), add_decayed_weights(weight_decay),
            scale_by_learning_rate(learning_rate)).

  ``mnemosyne()`` is the untuned default that the README's results use: the pretrained
  "default" (``pretrained/orthogonal/RECIPE.md``; "orthogonal" is the same), learning rate
  ``DEFAULT_LEARNING_RATE`` = 3e-3 (``learning_rate=None``: with ``name="plain"`` or a ``theta``
  of one's own, ``META_TRAINED_LEARNING_RATE`` = 1e-3; ``default_learning_rate``), decoupled weight decay ``DEFAULT_WEIGHT_DECAY`` = 0.1 (so
  p <- p - lr_t (Delta + 0.1 p)), horizon unknown (``num_steps=T`` tells the network t / T; on
  held_out's eleven tasks that moves no count against AdamW, median test-loss ratio 0.998 not
  told / told, and at AdamW's edge of stability told blows up more often:
  ``docs/results/eval/held_out_default_no_horizon_3seeds``).  Of 1e-3 (the rate the theta was meta-trained
  at), 2e-3, 3e-3 and 1e-2, 3e-3 put the validation loss within 2 % of tuned AdamW's or below on
  the most of five tasks outside held_out (5 of 5; 1e-3: 3), below AdamW's at the same rate on all
  five, with no blow-up in the stability suite where AdamW at 3e-3 has none
  (``docs/results/eval/learning_rate_selection_orthogonal``).  Its theta was meta-trained with
  orthogonalised matrix steps (``orthogonalize=True``: the step of every tensor with at least two axes is
  replaced by its polar factor at the same RMS, Muon's Newton-Schulz iteration,
  ``mnemosyne_lopt.orthogonalize``) and without weight decay.  Every tensor's step keeps an RMS
  near a fraction of the learning rate even where the gradient carries no signal, so without
  decay the weights of a fitted classifier grow and its test loss with them; 0.1 is the value of
  0, 0.01, 0.03, 0.1, 0.3, 1 that put the validation loss below AdamW's on the most of five tasks
  outside held_out (``docs/results/eval/weight_decay_selection``; for this theta, 0.1 against 0:
  ``docs/results/eval/orthogonalize_selection``); ``weight_decay=0.0`` turns it off.  Every
  coordinate's step is bounded by twice Adam's at the same learning rate
  (``max_coordinate_ratio=2``: |Delta_i| <= 2 |m_hat_i| / (sqrt(v_hat_i) + eps)), which keeps the
  x100 re-parameterised regression of ``mnemosyne-stability`` from blowing up at 1e-3
  (docs/evaluation.md, "Stability").  ``learning_rate`` is a float or an optax schedule (warmup, cosine, ...); each
  tensor's step has RMS at most learning_rate.  On a problem at AdamW's edge of stability at the
  rate used, it blows up more often than AdamW: the x100 re-parameterised regression of
  ``mnemosyne-stability`` at 3e-3 blows up in 11 of 48 seeds (told its horizon 19) against
  AdamW's 7 at 3e-3, and in none of 48 at 1e-3; halve the rate if a run spikes
  (docs/results/stability/reparam100_48seeds).  To fine-tune pretrained weights start lower,
  as with AdamW (3e-4).  ``name="plain"`` is the pretrained v2 without orthogonalisation, far
  cheaper per step on a CPU once matrices are large (docs/performance.md).
  ``max_adam_ratio=1.0`` also bounds the step by Adam's at the same learning rate.
  Under ``optax.inject_hyperparams(mnemosyne)`` the learning rate and the weight decay are
  hyperparameters of the state like AdamW's; ``num_steps``, ``max_adam_ratio``,
  ``orthogonalize`` and ``init_scale_reference``, fixed when the optimizer is built, go in its
  ``static_args``.  ``init_scale_reference=rho`` multiplies each matrix's step by
  max(1, rms(p_0) / rho), p_0 the parameters given to ``init`` (off by default; see
  ``MnemosyneLOpt``).
  """
  if learning_rate is None:
    learning_rate = default_learning_rate(name, theta)
  parts = [scale_by_mnemosyne(theta, name, num_steps, learned_opt, max_adam_ratio, orthogonalize,
                              init_scale_reference)]
  # A Python 0 drops the decay; an array (optax.inject_hyperparams: concrete at init, traced in
  # the update) always keeps it, so that init and update build the same chain.
  if isinstance(weight_decay, jax.Array) or weight_decay:
    parts.append(optax.add_decayed_weights(weight_decay))
  parts.append(optax.scale_by_learning_rate(learning_rate))
  return optax.chain(*parts)


def adamw_harness_labels(params, embedding_names=("embed", "embedding", "wte", "wpe")):
  """'adamw' for every parameter of at most one dimension and every tensor whose path contains
  one of ``embedding_names``, 'mnemosyne' for the rest: labels for ``optax.multi_transform``."""
  def label(path, leaf):
    key = jax.tree_util.keystr(path).lower()
    if jnp.ndim(leaf) <= 1 or any(n in key for n in embedding_names):
      return "adamw"
    return "mnemosyne"
  return jax.tree_util.tree_map_with_path(label, params)


def mnemosyne_with_adamw_harness(learning_rate=None, weight_decay: float = DEFAULT_WEIGHT_DECAY,
                                 num_steps: Optional[int] = None, name: str = "default",
                                 adamw_learning_rate=None, adamw_weight_decay: Optional[float] = None,
                                 embedding_names=("embed", "embedding", "wte", "wpe"), **kw):
  """The optional harness: Mnemosyne for the hidden matrices, optax.adamw for vectors (biases,
  norms' scales) and embeddings (``adamw_harness_labels``), as Celo2's full version does.
  ``learning_rate=None`` is ``mnemosyne()``'s for that theta (``default_learning_rate``);
  ``adamw_learning_rate`` / ``adamw_weight_decay`` default to ``learning_rate`` / ``weight_decay``."""
  if learning_rate is None:
    learning_rate = default_learning_rate(name, kw.get("theta"))
  adamw = optax.adamw(learning_rate if adamw_learning_rate is None else adamw_learning_rate,
                      weight_decay=weight_decay if adamw_weight_decay is None else adamw_weight_decay)
  core = mnemosyne(learning_rate, weight_decay, num_steps, name, **kw)
  return optax.multi_transform({"mnemosyne": core, "adamw": adamw},
                               lambda p: adamw_harness_labels(p, embedding_names))


MECHANIC_S_INIT = 1e-6            # optax.contrib.mechanize's defaults
MECHANIC_WEIGHT_DECAY = 1e-2


def _mnemosyne_by_own_count(schedule, weight_decay: float, num_steps: Optional[int], name: str,
                            **kw) -> optax.GradientTransformationExtraArgs:
  """u_t = -sigma_i (Delta_t + weight_decay x_t), ``mnemosyne(schedule, weight_decay, ...)``'s update
  with the schedule indexed by i, the number of updates Mnemosyne applied (its ``iteration``,
  which a skipped non-finite gradient does not advance) instead of ``scale_by_learning_rate``'s
  own count, which every call advances."""
  inner = scale_by_mnemosyne(num_steps=num_steps, name=name, **kw)

  def update_fn(updates, state, params=None, **extra):
    del extra
    _require_params(params)
    deltas, new_state = inner.update(updates, state)
    sigma = schedule(state.iteration) if callable(schedule) else schedule

    def step(d, x):
      d = d + weight_decay * jnp.asarray(x, d.dtype) if weight_decay else d
      return -sigma * d
    return jax.tree_util.tree_map(step, deltas, params), new_state

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def mnemosyne_mechanic(schedule: Union[None, float, Callable[[jax.Array], jax.Array]] = None,
                       weight_decay: float = DEFAULT_WEIGHT_DECAY,
                       num_steps: Optional[int] = None, name: str = "default",
                       mechanic_weight_decay: float = MECHANIC_WEIGHT_DECAY,
                       s_init: float = MECHANIC_S_INIT, **kw
                       ) -> optax.GradientTransformationExtraArgs:
  """The shipped Mnemosyne with its step length found while training, no learning rate to set:
  ``mnemosyne(schedule, weight_decay, num_steps, name)``'s update scaled by Mechanic
  (``mnemosyne_lopt.mechanic.mechanize``, the algorithm of ``optax.contrib.mechanize``).

  Mechanic (Cutkosky, Defazio and Mehta 2023) learns one scale S for the whole update of a base
  optimizer.  With u_t the base update (here u_t = -sigma_t (Delta_t + weight_decay p_t), sigma_t =
  ``schedule`` at update t, Delta_t Mnemosyne's direction, ``mnemosyne``), x_0 the parameters at
  the first update and U_t = u_0 + ... + u_{t-1}, the parameters are x_t = x_0 + S_t U_t, where
  S_t = s_1 + ... + s_6 over betas b_j = 1 - 10^-j; with the gradient g_t at x_t,

      g~ = g_t + mu S_t (|g_t| / |x_t|) x_t,   h = <g~, (x_0 - x_t) / S_t>  (= -<g~, U_t>),
      r_j <- b_j r_j + clip(h, -m_j, m_j) s_j,   m_j <- max(b_j m_j, |h| + eps),
      v_j <- b_j^2 v_j + h^2,   s_j <- (s_init m_j / 6 + max(r_j, 0)) / (sqrt(v_j) + eps),
      x_{t+1} = x_0 + S_{t+1} (U_t + u_t)

  (mu = ``mechanic_weight_decay``; the first update is s_init u_0).  S grows while the
  accumulated step keeps lowering the loss (h > 0 on average) and shrinks when it overshoots.
  Both parts are invariant to multiplying the loss by a constant, so the trajectory is too.

  ``schedule`` is the shape of the step size over training, peak 1.0 (a float or an optax
  schedule); its absolute value only rescales what S learns.  None (default): told its horizon
  T = ``num_steps``, linear warmup over ceil(T / 20) updates and cosine decay to 0
  (``mnemosyne_lopt.schedules.warmup_cosine(1.0, T)``, ``mnemosyne-eval --schedule
  warmup_cosine``), else constant 1.0.  At a constant shape S can keep growing past the point
  where the loss stops falling (held_out's conv net climbs back from 0.5 to 0.8-1.6, and where it
  ends swings with float rounding: docs/results/eval/mechanic_sensitivity); with warmup and
  cosine decay held_out's tasks end lower on 7 of 9 (docs/results/eval/held_out_mechanic_3seeds,
  held_out_mechanic_warmup_cosine_3seeds).  A gradient with NaN or Inf anywhere gives a zero
  update and leaves the parameters and the state as they were, bar the counters of skipped steps
  (Mnemosyne skips it itself, Mechanic keeps its scalars, and the schedule is indexed by
  Mnemosyne's count of applied updates): the next update is the one the bad step never happened,
  as with ``optax.apply_if_finite`` around the whole, without its copies of the state.
  State: Mnemosyne's (m, v: 2 floats per parameter, the CAM memory, counters) plus x_0, one more
  float per parameter (3 in all, Adam's 2; zeros until the first update, so a jitted step may
  donate parameters and state), and Mechanic's scalars.
  Mechanic needs float32 parameters: it recovers U_t from (x_0 - x_t) / S_t, which a bfloat16
  parameter's rounding swamps while S is small (``init`` says so for narrower floats).
  ``**kw`` goes to ``scale_by_mnemosyne`` (``max_adam_ratio``, ``orthogonalize``, ``theta``,
  ``learned_opt``)."""
  _check_num_steps(num_steps)
  if schedule is None:
    schedule = 1.0 if num_steps is None else schedules.warmup_cosine(1.0, num_steps)
  base = _mnemosyne_by_own_count(schedule, weight_decay, num_steps, name, **kw)
  return mechanic.mechanize(base, weight_decay=mechanic_weight_decay, s_init=s_init)

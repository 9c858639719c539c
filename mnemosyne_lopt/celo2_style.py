"""A Celo2-style learned optimizer (baseline for Mnemosyne v2), as a learned_optimization
``LearnedOptimizer``, written from the published description of Celo2 (Moudgil, Knyazev,
Belilovsky, ICLR 2026): a small per-coordinate MLP whose every input and whose output are
normalised to unit RMS per tensor, the absolute step size being the learning rate.

Per tensor p with gradient g at step t (1-based), the state and its features:

    m_k <- b_k m_k + (1 - b_k) g           b_k in ``momentum_decays`` (0.9, 0.99, 0.999)
    v   <- b2 v + (1 - b2) g^2             b2 = ``second_moment_decay`` (0.999)
    r   <- b2 r + (1 - b2) mean_cols(g^2), c <- b2 c + (1 - b2) mean_rows(g^2)
                                            (factored second moment of the last two axes, rank >= 2)
    m_hat_k = m_k / (1 - b_k^t),  v_hat = v / (1 - b2^t),
    v_fac = r c^T / mean(r) / (1 - b2^t)    (Adafactor's estimate; v_hat for tensors of rank < 2)
    rs = 1 / (sqrt(v_hat) + eps),  rf = 1 / (sqrt(v_fac) + eps)

    features (13): g, p, m_hat_k (3), v_hat, m_hat_k rs (3), g rs, rs, g rf, m_hat_0 rf

each divided by its RMS over the tensor, x / sqrt(mean(x^2) + 1e-12) (a constant feature, such
as rs of an untouched tensor, is kept as it is: its RMS is 1/eps-sized and it divides to 1).  The
MLP (``hidden`` = (8, 8), ReLU) maps a coordinate's 13 features to a direction d; the step is d
normalised per matrix (its last two axes; the whole tensor for rank < 2),

    u = d / sqrt(mean(d^2) + 1e-9),     p <- p - lr(t) (u + weight_decay p),

so every matrix's step has RMS lr(t) (below it only where d is nearly zero) before the decoupled
weight decay (0 by default, as the rule is meta-trained; Mnemosyne v2's shipped default uses 0.1).
With ``max_coordinate_ratio`` c (None by default) each coordinate of u is clipped to c times
Adam's direction, |u_i| <= c |m_hat_0,i rs_i| (Mnemosyne v2's shipped per-coordinate bound; a
diagnostic variant, not meta-trained with it), so the step's RMS is at most lr(t) and each
coordinate's at most c lr(t) |A_i|.  ``learning_rate`` is a float or an optax-style schedule of
the update count.  A non-finite gradient anywhere skips the whole update (state unchanged,
``skipped_updates`` + 1).

Persistent state per parameter coordinate: 3 momenta and v = 4 floats (Adam: 2), plus the factored
rows and columns.  Not included (the published recommended version has them): routing 1-D and
embedding parameters to AdamW, and Newton-Schulz orthogonalisation of the step of hidden matrices.
"""

import math
from typing import Any, Sequence

import flax
import gin
import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import base as lopt_base
from learned_optimization.optimizers import base as opt_base

NUM_FEATURES = 13
_FEATURE_EPS = 1e-12      # feature normalisation: x / sqrt(mean(x^2) + _FEATURE_EPS)
_STEP_EPS = 1e-9          # step normalisation: d / sqrt(mean(d^2) + _STEP_EPS)


def rms_normalise(x, axes=None, eps: float = _FEATURE_EPS):
  """x / sqrt(mean(x^2 over ``axes``) + eps) (all axes if None); an empty x is returned as is."""
  if x.size == 0:
    return x
  return x / jnp.sqrt(jnp.mean(jnp.square(x), axis=axes, keepdims=True) + eps)


def matrix_axes(ndim: int):
  """The axes a step is normalised over: the last two for rank >= 2, else all."""
  return (ndim - 2, ndim - 1) if ndim >= 2 else None


@flax.struct.dataclass
class Celo2StyleState:
  """State of the Celo2-style optimizer.

  Attributes:
    params: the parameters being trained (their own dtypes).
    state: model state, passed through.
    moments: per tensor, float32 [len(momentum_decays) + 1, *shape]: the momenta, then v.
    rows, cols: per tensor, the factored second moment: float32 shape[:-1] and shape[:-2] +
      shape[-1:] for rank >= 2, empty [0] otherwise.
    iteration: int32 count of updates applied; skipped_updates: int32 count of skipped ones.
  """
  params: Any
  state: Any
  moments: Any
  rows: Any
  cols: Any
  iteration: jax.Array
  skipped_updates: jax.Array


@gin.configurable
class Celo2StyleLOpt(lopt_base.LearnedOptimizer):
  """Per-coordinate MLP on per-tensor-normalised features, step normalised per matrix (module
  docstring).

  Args:
    learning_rate: a float or a schedule (update count -> rate) (1e-3, as Celo2 meta-trains).
    hidden: widths of the MLP's hidden layers ((8, 8)).
    momentum_decays: decays of the three momenta ((0.9, 0.99, 0.999)).
    second_moment_decay: decay of v and of the factored statistics (0.999).
    epsilon: of 1 / (sqrt(v_hat) + eps) (1e-8).
    weight_decay: decoupled, p <- p - lr(t) (u + weight_decay p) (0.0).
    max_coordinate_ratio: c of the per-coordinate bound |u_i| <= c |A_i|, A = m_hat_0 rs Adam's
      direction (None: no bound).
  """

  def __init__(self, learning_rate: Any = 1e-3, hidden: Sequence[int] = (8, 8),
               momentum_decays: Sequence[float] = (0.9, 0.99, 0.999),
               second_moment_decay: float = 0.999, epsilon: float = 1e-8,
               weight_decay: float = 0.0, max_coordinate_ratio: Any = None):
    if len(tuple(momentum_decays)) != 3:
      raise ValueError(f"momentum_decays must hold three decays, got {momentum_decays}.")
    if not hidden or any(int(h) < 1 for h in hidden):
      raise ValueError(f"hidden must be one or more positive widths, got {hidden}.")
    self.learning_rate = learning_rate
    self.hidden = tuple(int(h) for h in hidden)
    self.momentum_decays = tuple(float(b) for b in momentum_decays)
    if not weight_decay >= 0.0:
      raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
    self.second_moment_decay, self.epsilon = float(second_moment_decay), float(epsilon)
    self.weight_decay = float(weight_decay)
    if max_coordinate_ratio is not None and not max_coordinate_ratio > 0.0:
      raise ValueError(f"max_coordinate_ratio must be a positive number or None, got "
                       f"{max_coordinate_ratio}.")
    self.max_coordinate_ratio = (None if max_coordinate_ratio is None
                                 else float(max_coordinate_ratio))
    self.config = dict(learning_rate=learning_rate, hidden=list(self.hidden),
                       momentum_decays=list(self.momentum_decays),
                       second_moment_decay=self.second_moment_decay, epsilon=self.epsilon,
                       weight_decay=self.weight_decay,
                       max_coordinate_ratio=self.max_coordinate_ratio)

  def state_floats_per_param(self) -> int:
    """Persistent float32 numbers per coordinate of a large matrix (momenta and v)."""
    return len(self.momentum_decays) + 1

  def init(self, key) -> lopt_base.MetaParams:
    """theta: {"layers": [{"w": [in, out], "b": [out]}, ...]}, He-normal weights, zero biases."""
    widths = (NUM_FEATURES,) + self.hidden + (1,)
    keys = jax.random.split(key, len(widths) - 1)
    return {"layers": [{"w": jax.random.normal(k, (a, b), jnp.float32) * math.sqrt(2.0 / a),
                        "b": jnp.zeros((b,), jnp.float32)}
                       for k, a, b in zip(keys, widths[:-1], widths[1:])]}

  def opt_fn(self, theta, is_training: bool = False) -> opt_base.Optimizer:
    del is_training
    return _Celo2StyleOptimizer(self, theta)

  def rate(self, iteration):
    lr = self.learning_rate
    return lr(iteration) if callable(lr) else lr

  # --- one tensor ------------------------------------------------------------------------------
  def features(self, p, g, moments, rows, cols, iteration):
    """(features [*shape, 13] normalised per tensor, new moments, rows, cols) for one tensor;
    ``iteration`` is the number of updates before this one."""
    g = g.astype(jnp.float32)
    t = (iteration + 1).astype(jnp.float32)
    b2 = self.second_moment_decay
    ms = [b * moments[k] + (1.0 - b) * g for k, b in enumerate(self.momentum_decays)]
    v = b2 * moments[-1] + (1.0 - b2) * jnp.square(g)
    m_hat = [m / (1.0 - b ** t) for m, b in zip(ms, self.momentum_decays)]
    v_hat = v / (1.0 - b2 ** t)
    rs = 1.0 / (jnp.sqrt(v_hat) + self.epsilon)
    if g.ndim >= 2 and g.size:
      rows = b2 * rows + (1.0 - b2) * jnp.mean(jnp.square(g), axis=-1)
      cols = b2 * cols + (1.0 - b2) * jnp.mean(jnp.square(g), axis=-2)
      mean_rows = jnp.maximum(jnp.mean(rows, axis=-1, keepdims=True), 1e-30)
      v_fac = rows[..., :, None] * cols[..., None, :] / mean_rows[..., None] / (1.0 - b2 ** t)
      rf = 1.0 / (jnp.sqrt(v_fac) + self.epsilon)
    else:
      rf = rs
    raw = [g, p.astype(jnp.float32)] + m_hat + [v_hat] + [m * rs for m in m_hat] + [
        g * rs, rs, g * rf, m_hat[0] * rf]
    x = jnp.stack([rms_normalise(f) for f in raw], axis=-1)
    return x, jnp.stack(ms + [v]), rows, cols

  def direction(self, theta, x):
    """The MLP on features [..., 13] -> d [...]."""
    h = x
    layers = theta["layers"]
    for layer in layers[:-1]:
      h = jax.nn.relu(h @ layer["w"] + layer["b"])
    return (h @ layers[-1]["w"] + layers[-1]["b"])[..., 0]

  def step(self, theta, p, g, moments, rows, cols, iteration):
    """(unit-RMS-per-matrix step u, new moments, rows, cols) for one tensor."""
    x, moments, rows, cols = self.features(p, g, moments, rows, cols, iteration)
    d = self.direction(theta, x)
    u = rms_normalise(d, matrix_axes(d.ndim), _STEP_EPS)
    if self.max_coordinate_ratio is not None:
      bound = self.max_coordinate_ratio * jnp.abs(self.adam_direction(moments, iteration))
      u = jnp.clip(u, -bound, bound)
    return u, moments, rows, cols

  def adam_direction(self, moments, iteration):
    """A = m_hat_0 / (sqrt(v_hat) + eps) from the new moments [4, *shape] at update ``iteration``."""
    t = (iteration + 1).astype(jnp.float32)
    b0, b2 = self.momentum_decays[0], self.second_moment_decay
    v_hat = moments[-1] / (1.0 - b2 ** t)
    return moments[0] / (1.0 - b0 ** t) / (jnp.sqrt(v_hat) + self.epsilon)


class _Celo2StyleOptimizer(opt_base.Optimizer):
  """The inner optimizer for fixed meta-parameters theta."""

  def __init__(self, lopt: Celo2StyleLOpt, theta):
    self.lopt = lopt
    self.theta = theta

  @property
  def name(self):
    return "Celo2StyleLOpt"

  def init(self, params, model_state=None, num_steps=None, key=None, **kwargs) -> Celo2StyleState:
    del num_steps, key, kwargs
    n = len(self.lopt.momentum_decays) + 1
    zeros = lambda s: jnp.zeros(s, jnp.float32)
    factored = lambda p, cut: zeros(jnp.shape(p)[:-2] + jnp.shape(p)[cut]) if jnp.ndim(p) >= 2 else zeros((0,))
    return Celo2StyleState(
        params=params, state=model_state,
        moments=jax.tree_util.tree_map(lambda p: zeros((n,) + jnp.shape(p)), params),
        rows=jax.tree_util.tree_map(lambda p: factored(p, slice(-2, -1)), params),
        cols=jax.tree_util.tree_map(lambda p: factored(p, slice(-1, None)), params),
        iteration=jnp.asarray(0, jnp.int32), skipped_updates=jnp.asarray(0, jnp.int32))

  def set_params(self, state: Celo2StyleState, params) -> Celo2StyleState:
    return state.replace(params=params)

  def update(self, opt_state: Celo2StyleState, grad, loss=None, model_state=None, is_valid=False,
             key=None, **kwargs) -> Celo2StyleState:
    del loss, is_valid, key, kwargs
    lopt = self.lopt
    treedef = jax.tree_util.tree_structure(opt_state.params)
    leaves = treedef.flatten_up_to
    grads = [jnp.asarray(g) for g in leaves(grad)]
    finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in grads] or [True]))
    lr = lopt.rate(opt_state.iteration)
    outs = []
    for p, g, m, r, c in zip(leaves(opt_state.params), grads, leaves(opt_state.moments),
                             leaves(opt_state.rows), leaves(opt_state.cols)):
      p = jnp.asarray(p)
      g = jnp.where(finite, g, jnp.zeros_like(g))
      u, m2, r2, c2 = lopt.step(self.theta, p, g, m, r, c, opt_state.iteration)
      p32 = p.astype(jnp.float32)
      new_p = (p32 - lr * (u + lopt.weight_decay * p32)).astype(p.dtype)
      keep = lambda new, old: jnp.where(finite, new, old)
      outs.append((keep(new_p, p), keep(m2, m), keep(r2, r), keep(c2, c)))
    unflat = lambda i: treedef.unflatten([o[i] for o in outs])
    return Celo2StyleState(
        params=unflat(0), state=model_state, moments=unflat(1), rows=unflat(2), cols=unflat(3),
        iteration=opt_state.iteration + finite.astype(jnp.int32),
        skipped_updates=opt_state.skipped_updates + (~finite).astype(jnp.int32))

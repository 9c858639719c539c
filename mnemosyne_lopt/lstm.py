"""Coordinate-wise LSTM learned optimizers (baselines for Mnemosyne), as learned_optimization
``LearnedOptimizer``s.

``LSTMLOpt``: the optimizer of Andrychowicz et al. 2016 ("Learning to learn by gradient descent by
gradient descent"): one small LSTM, its weights shared by every coordinate of every tensor, reads
each coordinate's preprocessed gradient and writes that coordinate's update; each coordinate keeps
its own hidden state.  Gradient preprocessing with p = ``preprocess_p`` (10):

    pre(g) = (log|g| / p, sign g)   if |g| >= e^-p
             (-1,         e^p g)    otherwise

so that inputs of very different magnitudes reach the LSTM on a common scale.  A stack of
``num_layers`` (2) LSTM cells of ``hidden_size`` (20) units, per coordinate i:

    z = W_x x + W_h h_{t-1} + b          (4H gates: input i, forget f, cell g, output o)
    c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g),    h_t = sigmoid(o) tanh(c_t)

(the forget bias starts at 1), then a linear read-out of the top h_t gives the update
    p_{t+1} = p_t + step_mult * (w_out^T h_t + b_out).

``FeatureLSTMLOpt``: the same LSTM fed with engineered features against forgetting (the paper's
"LSTM with feature engineering" baseline): besides pre(g), momenta at several timescales,
m_b <- b m_b + (1 - b) g for b in ``momentum_decays`` (0.5, 0.9, 0.99, 0.999), and a second
moment v <- b2 v + (1 - b2) g^2 (b2 = 0.999), enter as second-moment-normalised features
    m_b_hat / (sqrt(v_hat) + eps),   g / (sqrt(v_hat) + eps)    (clipped to [-10, 10]),
with hats the bias corrections 1 / (1 - b^t); plus the training fraction t / T.

Per-parameter state (float32 numbers per trained coordinate, not counting the parameter itself):
``LSTMLOpt`` keeps h and c of every layer: 2 layers x 20 units x 2 = 80 floats per parameter (40x
Adam's 2); ``FeatureLSTMLOpt`` adds the 4 momenta and v: 85.  This per-coordinate memory is the
cost that Mnemosyne's compact associative memory is designed to avoid.
"""

import math
from typing import Any, Sequence

import flax
import gin
import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import base as lopt_base
from learned_optimization.optimizers import base as opt_base


def preprocess_gradient(g, p: float = 10.0):
  """Andrychowicz et al.'s log/sign preprocessing: [..., 2] from g [...] (see module docstring)."""
  g = g.astype(jnp.float32)
  big = jnp.abs(g) >= math.exp(-p)
  first = jnp.where(big, jnp.log(jnp.maximum(jnp.abs(g), math.exp(-p))) / p, -1.0)
  second = jnp.where(big, jnp.sign(g), math.exp(p) * g)
  return jnp.stack([first, second], axis=-1)


def lstm_cell(params, x, h, c):
  """One LSTM cell on a batch of coordinates.

  Shapes: x [N, I]; h, c [N, H]; params {"wx": [I, 4H], "wh": [H, 4H], "b": [4H]} with the gates
  in the order (input, forget, cell, output).  Returns (h_t, c_t).
  """
  z = x @ params["wx"] + h @ params["wh"] + params["b"]
  i, f, g, o = jnp.split(z, 4, axis=-1)
  c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
  return jax.nn.sigmoid(o) * jnp.tanh(c), c


@flax.struct.dataclass
class LSTMLOptState:
  """State of the LSTM optimizers.

  Attributes:
    params: the parameters being trained (their own dtypes).
    state: model state, passed through.
    hidden: per parameter tensor, float32 [num_layers, 2, *shape, hidden_size]: (h, c) per layer.
    momenta: per parameter tensor, float32 [len(momentum_decays) + 1, *shape]: the momenta and
      the second moment v (FeatureLSTMLOpt), or [0, *shape] (LSTMLOpt).
    iteration: int32 count of updates.
    num_steps: int32 planned length of training T.
  """
  params: Any
  state: Any
  hidden: Any
  momenta: Any
  iteration: jax.Array
  num_steps: jax.Array


@gin.configurable
class LSTMLOpt(lopt_base.LearnedOptimizer):
  """Coordinate-wise LSTM optimizer of Andrychowicz et al. 2016 (module docstring).

  Args:
    hidden_size: units per LSTM layer (20).
    num_layers: stacked LSTM layers (2).
    preprocess_p: p of the gradient preprocessing (10).
    step_mult: scale of the LSTM's read-out (0.01; the paper multiplied its output by 0.1).
    out_init_scale: std of the read-out weights at init (0.01), so early updates are small.
  """

  def __init__(self, hidden_size: int = 20, num_layers: int = 2, preprocess_p: float = 10.0,
               step_mult: float = 0.01, out_init_scale: float = 0.01):
    if hidden_size < 1 or num_layers < 1:
      raise ValueError(f"hidden_size and num_layers must be positive, got {hidden_size}, {num_layers}.")
    self.hidden_size, self.num_layers = int(hidden_size), int(num_layers)
    self.preprocess_p, self.step_mult, self.out_init_scale = preprocess_p, step_mult, out_init_scale

  @property
  def num_inputs(self) -> int:
    return 2

  def state_floats_per_param(self) -> int:
    """Persistent float32 numbers per parameter coordinate (h and c of every layer, momenta)."""
    return 2 * self.num_layers * self.hidden_size + self._num_moments()

  def _num_moments(self) -> int:
    return 0

  def init(self, key) -> lopt_base.MetaParams:
    """theta: {"lstm": [per layer {"wx", "wh", "b"}], "out": {"w": [H, 1], "b": [1]}}."""
    H = self.hidden_size
    keys = jax.random.split(key, self.num_layers + 1)
    layers = []
    for l in range(self.num_layers):
      n_in = self.num_inputs if l == 0 else H
      kx, kh = jax.random.split(keys[l])
      layers.append({
          "wx": jax.random.normal(kx, (n_in, 4 * H), jnp.float32) / math.sqrt(n_in),
          "wh": jax.random.normal(kh, (H, 4 * H), jnp.float32) / math.sqrt(H),
          "b": jnp.zeros((4 * H,), jnp.float32).at[H:2 * H].set(1.0)})   # forget bias 1
    out = {"w": self.out_init_scale * jax.random.normal(keys[-1], (H, 1), jnp.float32),
           "b": jnp.zeros((1,), jnp.float32)}
    return {"lstm": layers, "out": out}

  def opt_fn(self, theta, is_training: bool = False) -> opt_base.Optimizer:
    del is_training
    return _LSTMOptimizer(self, theta)

  # --- one tensor ------------------------------------------------------------------------------
  def _features(self, g, moments, iteration, num_steps):
    """[N, num_inputs] LSTM inputs and the new moments for flattened g [N]."""
    del iteration, num_steps
    return preprocess_gradient(g, self.preprocess_p), moments

  def _update_tensor(self, theta, p, g, hidden, moments, iteration, num_steps):
    shape, n = p.shape, p.size
    g32 = jnp.ravel(g).astype(jnp.float32)
    x, moments = self._features(g32, moments.reshape(moments.shape[0], n), iteration, num_steps)
    hc = hidden.reshape(self.num_layers, 2, n, self.hidden_size)
    new_hidden = []
    for l, layer in enumerate(theta["lstm"]):
      h, c = lstm_cell(layer, x, hc[l, 0], hc[l, 1])
      new_hidden.append(jnp.stack([h, c]))
      x = h
    out = (x @ theta["out"]["w"] + theta["out"]["b"])[:, 0]
    new_p = jnp.ravel(p).astype(jnp.float32) + self.step_mult * out
    return (new_p.reshape(shape).astype(p.dtype),
            jnp.stack(new_hidden).reshape(hidden.shape), moments.reshape((moments.shape[0],) + shape))


@gin.configurable
class FeatureLSTMLOpt(LSTMLOpt):
  """The coordinate-wise LSTM with multi-timescale momentum and second-moment features.

  Args (besides LSTMLOpt's):
    momentum_decays: decays b of the momenta m_b (0.5, 0.9, 0.99, 0.999).
    second_moment_decay: decay of v (0.999).
    epsilon: of the normalisation by sqrt(v_hat) (1e-8).
  """

  def __init__(self, hidden_size: int = 20, num_layers: int = 2, preprocess_p: float = 10.0,
               step_mult: float = 0.01, out_init_scale: float = 0.01,
               momentum_decays: Sequence[float] = (0.5, 0.9, 0.99, 0.999),
               second_moment_decay: float = 0.999, epsilon: float = 1e-8):
    super().__init__(hidden_size, num_layers, preprocess_p, step_mult, out_init_scale)
    self.momentum_decays = tuple(float(b) for b in momentum_decays)
    self.second_moment_decay, self.epsilon = float(second_moment_decay), float(epsilon)

  @property
  def num_inputs(self) -> int:
    return 2 + len(self.momentum_decays) + 1 + 1

  def _num_moments(self) -> int:
    return len(self.momentum_decays) + 1

  def _features(self, g, moments, iteration, num_steps):
    t = (iteration + 1).astype(jnp.float32)
    b2 = self.second_moment_decay
    v = b2 * moments[-1] + (1.0 - b2) * jnp.square(g)
    rs = 1.0 / (jnp.sqrt(v / (1.0 - b2 ** t)) + self.epsilon)
    ms = [b * moments[k] + (1.0 - b) * g for k, b in enumerate(self.momentum_decays)]
    norm = [jnp.clip(m / (1.0 - b ** t) * rs, -10.0, 10.0) for m, b in zip(ms, self.momentum_decays)]
    frac = jnp.broadcast_to(iteration.astype(jnp.float32) /
                            jnp.maximum(num_steps.astype(jnp.float32), 1.0), g.shape)
    x = jnp.concatenate([preprocess_gradient(g, self.preprocess_p),
                         jnp.stack(norm + [jnp.clip(g * rs, -10.0, 10.0), frac], axis=-1)], axis=-1)
    return x, jnp.stack(ms + [v])


class _LSTMOptimizer(opt_base.Optimizer):
  """The inner optimizer for fixed meta-parameters theta."""

  def __init__(self, lopt: LSTMLOpt, theta):
    self.lopt = lopt
    self.theta = theta

  @property
  def name(self):
    return type(self.lopt).__name__

  def init(self, params, model_state=None, num_steps=None, key=None, **kwargs) -> LSTMLOptState:
    del key, kwargs
    lopt = self.lopt
    hidden = lambda p: jnp.zeros((lopt.num_layers, 2) + jnp.shape(p) + (lopt.hidden_size,), jnp.float32)
    moments = lambda p: jnp.zeros((lopt._num_moments(),) + jnp.shape(p), jnp.float32)  # pylint: disable=protected-access
    return LSTMLOptState(
        params=params, state=model_state,
        hidden=jax.tree_util.tree_map(hidden, params),
        momenta=jax.tree_util.tree_map(moments, params),
        iteration=jnp.asarray(0, jnp.int32),
        num_steps=jnp.asarray(1 if num_steps is None else num_steps, jnp.int32))

  def update(self, opt_state: LSTMLOptState, grad, loss=None, model_state=None, is_valid=False,
             key=None, **kwargs) -> LSTMLOptState:
    del loss, is_valid, key, kwargs
    treedef = jax.tree_util.tree_structure(opt_state.params)
    leaves = lambda tree: treedef.flatten_up_to(tree)
    outs = [self.lopt._update_tensor(self.theta, jnp.asarray(p), jnp.asarray(g), h, m,  # pylint: disable=protected-access
                                     opt_state.iteration, opt_state.num_steps)
            for p, g, h, m in zip(leaves(opt_state.params), leaves(grad), leaves(opt_state.hidden),
                                  leaves(opt_state.momenta))]
    unflat = lambda i: treedef.unflatten([o[i] for o in outs])
    return LSTMLOptState(params=unflat(0), state=model_state, hidden=unflat(1), momenta=unflat(2),
                         iteration=opt_state.iteration + 1, num_steps=opt_state.num_steps)

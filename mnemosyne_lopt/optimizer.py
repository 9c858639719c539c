"""Mnemosyne as a learned_optimization ``LearnedOptimizer``.

Two update rules share one network (HPE over chunk tokens, CAM over meta-tokens, a head per chunk).
Notation for one parameter tensor p with gradient g at step t (of T), N coordinates in chunks c of
n_c coordinates (``hpe.ChunkLayout``):

    m' = b1 m + (1 - b1) g,   v' = b2 v + (1 - b2) g^2,   m_hat = m' / (1 - b1^t),
    v_hat = v' / (1 - b2^t),  rs = 1 / (sqrt(v_hat) + eps)                       (Adam's accumulators)

m and v are the only per-coordinate state (2 floats per parameter, as Adam).

Rule "v2" (default): scale-free inputs, a normalised step, the user's learning rate
---------------------------------------------------------------------------------------
Directions per coordinate, each invariant to multiplying the loss or the gradients by c > 0
(up to eps, as Adam) and independent of the parameters' values:

    A = m_hat rs  (Adam),   G = g rs  (Adam without momentum),   S = sign(m')  (sign momentum).

One statistics pass per tensor gives per chunk the Gram sums M_c = sum_i f_i f_i^T of f = (A, G, S)
and sum v'.  The chunk token holds only scale-free functions of them: rms_c(A), rms_c(G),
mean_c |A|, corr_c(A, G) (clipped to its Cauchy-Schwarz bound [-1, 1]), mean_c(S G), the fraction
of non-zero m', the chunk's log-RMS of v' relative to the tensor's, the tensor's log-size, the
chunk's fill and the time features (t/T when T is known, a flag saying whether it is, tanh(t/s)).
The head gives per chunk mixing logits z_c (3), a relative log-scale r_c and a scale logit u_c:

    pi_c = softmax(z_c),   d_i = pi_c . f_i                              (a convex mix: never -A)
    w_c = exp(B_r tanh(r_c / B_r))                                       (chunk scale, e^-B_r..e^B_r)
    s = exp(max(B_g - softplus(B_g - u_bar), -B_s)),  u_bar = sum_c n_c u_c / N
                                                                        (tensor scale, e^-B_s..e^B_g)
    Q = sum_c w_c^2 pi_c^T M_c pi_c  (= sum_i (w_c d_i)^2, exactly)
    Delta_i = s w_c d_i / max(sqrt(Q / N), 1 / G)          (RMS over the tensor = s min(G sqrt(Q/N), 1))
    p <- p - lr_t (Delta + weight_decay p)

So every tensor's step has RMS at most lr_t s <= lr_t e^B_g, whatever the task's scales: the
learning rate (a float or an optax schedule of the update count) is the user's, as for any optax
optimizer.  With B_g = ``max_log_gain`` = 0 (the default, and every shipped theta) s <= 1 and the
network only shapes the step within a tensor and shrinks it; B_g > 0 lets it also lengthen a
tensor's step up to e^B_g-fold.  G = ``max_step_gain``
(1.0) bounds how much the normalisation may amplify a direction: with G = 1 a direction whose RMS
falls below 1 (Adam's m_hat / sqrt(v_hat) does near a noisy minimum) gives a smaller step, as
Adam's does; G = None always gives RMS exactly lr_t s (Celo2's per-tensor normalisation).
``max_adam_ratio`` c (None by default) optionally scales Delta per tensor by
min(1, c rms_T(A) / rms_T(Delta)): a step never larger than c times Adam's.
With G = 1 the chunk scales w_c <= e^B_r amplify a mix whose RMS is below 1 up to e^B_r-fold.
``relative_chunk_scales=True`` makes them redistribute the step among a tensor's chunks only, the
bound G applying to the mix itself:

    Q_1 = sum_c pi_c^T M_c pi_c  (= sum_i d_i^2),
    Delta_i = s (w_c d_i / sqrt(Q / N)) min(1, G sqrt(Q_1 / N))  (RMS over the tensor s min(1, G rms(d)))

``max_coordinate_ratio`` c_A (None by default) bounds every coordinate by Adam's step there:

    Delta_i <- clip(Delta_i, -c_A |A_i|, c_A |A_i|),

so no coordinate moves more than c_A times as far as under Adam at the same learning rate.
``align_with_adam=True`` (an ablation) also keeps every coordinate's step in Adam's direction,
Delta_i in the interval between 0 and c_A A_i (without c_A: Delta_i <- 0 where Delta_i A_i < 0).
``normalize_step=False`` (an ablation) drops the normalisation.
``orthogonalize=True`` (the shipped "orthogonal" theta, the default, was meta-trained with it,
"plain" was not) first replaces the step of every matrix-like tensor by its polar factor at the same RMS
(``mnemosyne_lopt.orthogonalize``: Muon's Newton-Schulz iteration), then applies the
per-coordinate bound.
``init_scale_reference`` rho (None by default) makes each matrix-like tensor's step relative to
the scale it was initialised at:

    Delta <- f Delta,   f = max(1, rms(p_0) / rho)     (f = 1 for vectors; p_0: the tensor at init)

so a tensor drawn at RMS rho or below keeps the step above, one drawn 6x larger (flax's LeCun
kernels of width 64 against GPT's std 0.02) takes a 6x longer one.  f is fixed at ``init`` (one
float per tensor of state, ``MnemosyneState.step_scales``) and multiplies the whole step, the
per-coordinate bound included, not the weight decay: p <- p - lr_t (f Delta + weight_decay p).
For a tensor with rms(p_0) >= rho, training w with p = c w (w_0 = p_0 / c, c <= rms(p_0) / rho so
that f stays above 1) gives c w_t = p_t up to Adam's eps: the step is invariant to such a
re-parameterisation, where without the option it is a learning rate times c.

Rule "v1": the Metz et al. step of the first pretrained optimizer
-----------------------------------------------------------------
Directions F = [m_hat rs, g rs, sign(m), p] with unconstrained per-chunk coefficients a and
    step = step_mult (sum_k a_k F_k) exp(B tanh(mag_mult b / B)),
chunk tokens of absolute log-RMS statistics; kept so that the "v1" pretrained optimizer loads and
compares.  It bounds the step scale, not the step: nothing bounds a_k or |p|.  Only v1 has the
``per_coordinate`` mode (the paper's v1 reading), which runs a CAM per coordinate over
xi = [g rs, m_hat rs] and adds its read-out to F (r (d + 1) more floats per parameter).

The shared network
------------------
HPE (``hpe``): a bidirectional Performer mixes the chunk tokens of a tensor and two pooling layers
turn them into meta-tokens.  CAM (``cam``): each meta-token is a stream; its memory is written
with (phi(k_t), v_t) and read with phi(q_t) every step, giving a context c_t = xi_t + W_O out_t that
carries the tensor region's optimisation history.  Head: an MLP on [chunk token, context of its
meta-token] per chunk.  All per-coordinate work is a few elementwise operations (PAPER.md 3b).

A gradient with a NaN or Inf anywhere (more precisely: any non-finite chunk statistic; in v1 also
a non-finite parameter) leaves parameters and optimizer state as they were and increments
``skipped_updates``.
"""

import math
from typing import Any, Optional, Sequence

import flax
import gin
import jax
import jax.numpy as jnp
import numpy as np
from learned_optimization.learned_optimizers import base as lopt_base
from learned_optimization.optimizers import base as opt_base

from mnemosyne_lopt import cam
from mnemosyne_lopt import hpe
from mnemosyne_lopt import nn
from mnemosyne_lopt import orthogonalize as orthogonal_step
from mnemosyne_lopt import random_features

MODES = ("meta_token", "per_coordinate")
RULES = ("v1", "v2")
_NUM_BASE_DIRECTIONS = 4      # v1: m_hat rs, g rs, sign(m), p
_NUM_CHUNK_STATS = 7          # v1 chunk statistics
_V2_DIRECTIONS = 3            # v2: A = m_hat rs, G = g rs, S = sign(m')
_V2_SUMS = 7                  # v2 per-chunk sums: AA, GG, AG, |A|, G S, |S|, v'
_V2_CHUNK_STATS = 7           # v2 scale-free chunk statistics
_V2_TIME_FEATURES = 6         # t/T (0 when T is unknown), T-known flag, 4 x tanh(t / s)
_TIME_SCALES = (10.0, 100.0, 1000.0, 10000.0)
_TINY = 1e-30


@flax.struct.dataclass
class MnemosyneState:
  """Optimizer state: a typed pytree.

  Attributes:
    params: the parameters being trained (their own dtypes).
    state: the model state (e.g. batch-norm statistics), passed through.
    momentum: m, float32 tree like ``params``.
    second_moment: v, float32 tree like ``params``.
    chunk_moments: v1 only (None in v2): float32 [C, 2], per HPE chunk the sums of m^2 and of v over its coordinates, in
      the network's chunk order (each tensor's chunks padded to a multiple of prod(pool_factors)),
      C = ``num_moment_rows(shapes)``.  Carried from step to step by the exact recurrences in
      ``_chunk_network`` instead of being re-read from m and v, which spares the update two of
      the six reads of its statistics pass.
    memory: in meta_token mode ONE CAMState for the whole tree, memory [S, r, d] and normaliser
      [S, r]: the CAM streams (meta-tokens) of all tensors in tree order, padded with empty streams
      to S = ``num_memory_streams(shapes)`` (a multiple of ``stream_multiple``, so that the stream
      axis shards evenly over a mesh, ``sharding.state_shardings``); in per_coordinate mode a tree
      like the parameters whose leaves are CAMStates of shape p.shape + (r, d_coord) (normaliser
      p.shape + (r,)), sharded like the parameters.
    iteration: int32 count of applied updates.
    num_steps: int32 planned length of training (T), from ``init``.
    skipped_updates: int32 count of updates skipped for a non-finite gradient.
    step_scales: with ``init_scale_reference`` rho, per tensor the float32 scalar
      f = max(1, rms(p_0) / rho) (1 for vectors) that multiplies its step; None without it.
  """
  params: Any
  state: Any
  momentum: Any
  second_moment: Any
  chunk_moments: jax.Array
  memory: Any
  iteration: jax.Array
  num_steps: jax.Array
  skipped_updates: jax.Array
  step_scales: Any = None


def _time_features(iteration, num_steps):
  t = iteration.astype(jnp.float32)
  frac = t / jnp.maximum(num_steps.astype(jnp.float32), 1.0)
  return jnp.stack([frac] + [jnp.tanh(t / s) for s in _TIME_SCALES])


def _time_features_v2(iteration, num_steps):
  """[t/T clipped to [0, 1] (0 when T is unknown, num_steps = 0), T-known flag, tanh(t/s)]."""
  t = iteration.astype(jnp.float32)
  known = (num_steps > 0).astype(jnp.float32)
  frac = known * jnp.clip(t / jnp.maximum(num_steps.astype(jnp.float32), 1.0), 0.0, 1.0)
  return jnp.stack([frac, known] + [jnp.tanh(t / s) for s in _TIME_SCALES])


def _segment_sums(x, segment_ids, num_segments):
  """Per-tensor sums of per-chunk values x [total] (rows of tensor i have segment id i).  A
  scatter-add, not differences of a cumulative sum, which would lose a small tensor's sum
  after a large one's to float32 rounding."""
  return jax.ops.segment_sum(x, segment_ids, num_segments, indices_are_sorted=True)


def _check_grad_tree(treedef, grads):
  grad_treedef = jax.tree_util.tree_structure(grads)
  if grad_treedef != treedef:
    raise ValueError(f"The gradient tree does not match the parameter tree the optimizer was "
                     f"initialised with: got {grad_treedef}, expected {treedef}. Pass gradients of "
                     "exactly the parameters given to init().")


def _all_finite(sums):
  """True when every per-chunk statistic of every tensor is finite (the non-finite check); one
  reduction over all of them, not one per tensor.  ``sums``: per tensor a tuple of [n] sums or
  one [n, k] array."""
  if not sums:
    return jnp.asarray(True)
  flat = [jnp.ravel(jnp.stack(x, -1) if isinstance(x, (tuple, list)) else x) for x in sums]
  return jnp.all(jnp.isfinite(jnp.concatenate(flat)))


def initial_step_scales(params, reference: float):
  """Per tensor of ``params`` the float32 scalar f = max(1, rms(p) / reference) for a matrix-like
  tensor (``orthogonalize.is_matrix``), 1 for the others: ``init_scale_reference``'s factor."""
  def scale(p):
    p = jnp.asarray(p)
    if not orthogonal_step.is_matrix(p.shape):
      return jnp.ones((), jnp.float32)
    rms = jnp.sqrt(jnp.mean(jnp.square(p.astype(jnp.float32))))
    return jnp.maximum(1.0, rms / reference)
  return jax.tree_util.tree_map(scale, params)


def _check_params(params):
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    dtype = jnp.asarray(leaf).dtype if not hasattr(leaf, "dtype") else leaf.dtype
    if not jnp.issubdtype(dtype, jnp.floating):
      raise TypeError(
          f"Mnemosyne can only train floating-point parameters, but parameter "
          f"{jax.tree_util.keystr(path) or '<root>'} has dtype {dtype}; cast it to a float dtype "
          "or keep it out of the tree handed to the optimizer.")


@gin.configurable
class MnemosyneLOpt(lopt_base.LearnedOptimizer):
  """Mnemosyne: CAM (temporal) over HPE (spatial) meta-tokens; see the module docstring.

  Every size the paper leaves open is an argument (and so a gin parameter):

  Args:
    rule: "v2" (default: scale-free inputs, step of RMS <= learning_rate per tensor) or "v1" (the
      Metz et al. step of the "v1" pretrained optimizer); see the module docstring.
    learning_rate (v2): a float or a schedule (a callable of the number of updates applied so
      far, as optax schedules are): each tensor's step has RMS learning_rate * s at most, s <= 1
      learned (s <= e^B_g with ``max_log_gain`` B_g).
    weight_decay (v2): decoupled weight decay, p <- p - lr_t (Delta + weight_decay p) (0.0).
    max_relative_log_scale (v2): B_r, the bound on a chunk's learned log-scale relative to the
      other chunks of its tensor (1.0: e^-1 to e^1).
    max_log_shrink (v2): B_s, the learned tensor scale s lies in [e^-B_s, e^B_g] (log 100).
    max_log_gain (v2): B_g >= 0, the most the learned tensor scale may lengthen the step,
      log s = max(B_g - softplus(B_g - u_bar), -B_s) (0.0: s <= 1, the step's RMS at most the
      learning rate; B_g = 0 is the formula every shipped theta was meta-trained with).
    normalize_step (v2): divide the step by its RMS over the tensor (True; False is an ablation).
    max_step_gain (v2): G, the most the normalisation may amplify the direction:
      Delta = s w d / max(sqrt(Q / N), 1 / G).  1.0 (default): the step's RMS is lr s min(rms(d), 1),
      so a direction that shrinks as Adam's does near a noisy minimum (m_hat / sqrt(v_hat) -> 0)
      shrinks the step too; None: always exactly lr s (Celo2's normalisation), which in
      ``mnemosyne-stability`` blew up on the re-parameterised (x100) regression where AdamW did not.
    max_adam_ratio (v2): c, or None (default): if given, Delta is further scaled per tensor by
      min(1, c rms_T(A) / rms_T(Delta)), A = m_hat / (sqrt(v_hat) + eps), so no tensor's step is
      larger than c times Adam's at the same learning rate (c = 1: no blow-up in
      ``mnemosyne-stability``, but the shipped theta then ends near AdamW's losses).
    relative_chunk_scales (v2): False (default): Delta = s w d / max(rms_T(w d), 1 / G), so the
      chunk scales w amplify a mix d whose RMS is below 1 / G (up to e^B_r); True: Delta =
      s (w d / rms_T(w d)) min(1, G rms_T(d)), w only redistributes the step among the tensor's
      chunks (module docstring).
    max_coordinate_ratio (v2): c_A, or None (default): if given, Delta_i is clipped to
      [-c_A |A_i|, c_A |A_i|] per coordinate, A = m_hat / (sqrt(v_hat) + eps).
    align_with_adam (v2): False (default); True: no coordinate steps against Adam's direction A_i
      (Delta_i between 0 and c_A A_i; at c_A = 1 the x100 regression of ``mnemosyne-stability``
      blows up no less often than without it, docs/results/stability/reparam100_48seeds).
    orthogonalize (v2): False (default); True replaces the step of every matrix-like tensor (at
      least two axes, seen as [prod(shape[:-1]), shape[-1]]) by its polar factor, approximated by
      Muon's quintic Newton-Schulz iteration and rescaled to the step's own RMS, before the
      per-coordinate bound (``mnemosyne_lopt.orthogonalize``; Celo2's recommended version
      orthogonalises its learned step the same way).  The shipped "orthogonal" theta was
      meta-trained with it (``meta_train/v2_small_orthogonal.gin``).
    init_scale_reference (v2): rho, or None (default): if given, each matrix-like tensor's step
      is multiplied by f = max(1, rms(p_0) / rho), p_0 the tensor at ``init`` (module docstring).
    use_cam (v2): read the CAM memory of the meta-tokens into the head's context (True; False is
      the "no history" ablation: the memory stays empty).
    hide_horizon_prob (v2): in meta-training (``opt_fn(theta, is_training=True)`` with a key at
      ``init``), the probability that an inner run is not told its length T, so the optimizer
      also learns to work with ``num_steps=None`` (0.0).
    mode: "meta_token" (default: CAM per HPE meta-token, 2 floats of state per parameter) or
      "per_coordinate" (v1 only: CAM per coordinate, 2 + coord_features * (coord_value_dim + 1)
      floats).
    chunk_length: coordinates per HPE chunk (1024; 256 costs ~3x more time per update on CPU,
      see README "Speed and memory").
    pool_factors: group sizes of HPE's two pooling layers ((4, 4): a meta-token covers 16 chunks).
    model_dim: width D of chunk tokens and meta-tokens (16).
    hidden_dim: hidden width of the feed-forward blocks and the head (32).
    hpe_features: random features r of HPE's Performer (16).
    hpe_key_dim: query/key width n of HPE's Performer (8).
    cam_features: random features r of the meta-token CAM (64: at 16 its read-out is no closer
      to softmax attention than a plain average, docs/cam_analysis.md; costs r (d + 1) floats per
      meta-token, 0.07 per parameter at the default sizes).
    cam_key_dim: query/key width n of the CAM (8); the value width d is model_dim.
    tau: CAM discount; 0 is attention over the whole history (0.01: a ~100-step horizon).
    qk_radius: |q| = |k| after normalisation, bounding every random feature (1.0).
    coord_features, coord_key_dim, coord_value_dim: CAM sizes in per_coordinate mode (4, 2, 1).
    beta1, beta2, epsilon: decays and epsilon of the accumulators (0.9, 0.999, 1e-8).
    step_mult (v1): step scale; an untrained v1 Mnemosyne is Adam with this learning rate (1e-3).
    mag_mult (v1): scale of the learned log-magnitude (1.0).
    max_log_magnitude (v1): bound B on the learned log step scale, which becomes
      B tanh(mag_mult b / B), so the step SCALE stays within step_mult * [e^-B, e^B] (3.0; None:
      unbounded); the step itself is that scale times sum_k a_k F_k, which nothing bounds.
    head_init_scale: scale of the head's last-layer weights at init (0.01).
    feature_seed: seed of the fixed random-feature projections (buffers, not meta-parameters).
    orthogonal_features: draw the projections in orthogonal blocks (True).
    skip_nonfinite: skip updates whose gradient (or any chunk statistic) holds NaN/Inf (True).
    stream_multiple: the meta-token CAM memory of the tree has its S streams padded to a multiple
      of this (empty streams, never written), so that it shards evenly over the devices of a mesh.
      None (default): the largest power of two that is at most S / 8 and at most 1024, so the
      padding is under 1/8 of the memory and a power-of-two mesh of up to 1024 devices divides a
      large model's memory (S >= 8 x devices); small trees are not padded.
    use_hpe: False is the "no HPE" ablation: chunk tokens are only embedded (no Performer across
      a tensor's chunks, no pooling) and every chunk is its own CAM stream (0.066 x 16 = 1.06
      floats per parameter on top of Adam's 2 at the default sizes).
    compute_dtype: dtype of the per-chunk network: HPE's embedding, Performer and pooling blocks,
      the meta-token CAM's projections and the head ("float32" default, or "bfloat16").  The
      per-coordinate work (m, v, the chunk statistics, the direction features, the step) and the
      CAM memory stay float32 whatever it is; so do the random-feature maps (exp of bounded
      arguments) and the attention/CAM read-outs over them (cast to compute_dtype after), and, in
      per_coordinate mode, the coordinate CAM.  The head's last layer multiplies in compute_dtype
      but accumulates and adds its bias in float32, so the Adam coefficient a_0 = 1 at init is
      not rounded to bfloat16's 2^-7 spacing near 1.
  """

  def __init__(self,
               rule: str = "v2",
               learning_rate: Any = 1e-3,
               weight_decay: float = 0.0,
               max_relative_log_scale: float = 1.0,
               max_log_shrink: float = math.log(100.0),
               max_log_gain: float = 0.0,
               normalize_step: bool = True,
               max_step_gain: Optional[float] = 1.0,
               max_adam_ratio: Optional[float] = None,
               relative_chunk_scales: bool = False,
               max_coordinate_ratio: Optional[float] = None,
               align_with_adam: bool = False,
               orthogonalize: bool = False,
               init_scale_reference: Optional[float] = None,
               use_cam: bool = True,
               hide_horizon_prob: float = 0.0,
               mode: str = "meta_token",
               chunk_length: int = 1024,
               pool_factors: Sequence[int] = (4, 4),
               model_dim: int = 16,
               hidden_dim: int = 32,
               hpe_features: int = 16,
               hpe_key_dim: int = 8,
               cam_features: int = 64,
               cam_key_dim: int = 8,
               tau: float = 0.01,
               qk_radius: float = 1.0,
               coord_features: int = 4,
               coord_key_dim: int = 2,
               coord_value_dim: int = 1,
               beta1: float = 0.9,
               beta2: float = 0.999,
               epsilon: float = 1e-8,
               step_mult: float = 1e-3,
               mag_mult: float = 1.0,
               max_log_magnitude: Optional[float] = 3.0,
               head_init_scale: float = 0.01,
               feature_seed: int = 0,
               orthogonal_features: bool = True,
               skip_nonfinite: bool = True,
               compute_dtype: str = "float32",
               use_hpe: bool = True,
               stream_multiple: Optional[int] = None):
    # Every constructor argument, as given: enough to rebuild this optimizer (pretrained files).
    self.config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in locals().items()
                   if k not in ("self", "__class__")}
    if rule not in RULES:
      raise ValueError(f"rule must be one of {RULES}, got {rule!r}.")
    if mode not in MODES:
      raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    if rule == "v2" and mode != "meta_token":
      raise ValueError("rule='v2' has the meta_token mode only; use rule='v1' for the "
                       "per_coordinate mode.")
    if not callable(learning_rate) and not float(learning_rate) > 0:
      raise ValueError(f"learning_rate must be a positive float or a schedule (a callable of the "
                       f"step count), got {learning_rate!r}.")
    if not 0.0 <= hide_horizon_prob <= 1.0:
      raise ValueError(f"hide_horizon_prob must be in [0, 1], got {hide_horizon_prob}.")
    if not max_relative_log_scale >= 0 or not max_log_shrink >= 0 or not max_log_gain >= 0:
      raise ValueError("max_relative_log_scale, max_log_shrink and max_log_gain must be >= 0, got "
                       f"{max_relative_log_scale}, {max_log_shrink} and {max_log_gain}.")
    self.rule = rule
    self.learning_rate = learning_rate if callable(learning_rate) else float(learning_rate)
    self.weight_decay = float(weight_decay)
    self.max_relative_log_scale = float(max_relative_log_scale)
    self.max_log_shrink = float(max_log_shrink)
    self.max_log_gain = float(max_log_gain)
    self.normalize_step = bool(normalize_step)
    if max_step_gain is not None and not max_step_gain > 0:
      raise ValueError(f"max_step_gain must be positive or None, got {max_step_gain}.")
    self.max_step_gain = None if max_step_gain is None else float(max_step_gain)
    if max_adam_ratio is not None and not max_adam_ratio > 0:
      raise ValueError(f"max_adam_ratio must be positive or None, got {max_adam_ratio}.")
    self.max_adam_ratio = None if max_adam_ratio is None else float(max_adam_ratio)
    self.relative_chunk_scales = bool(relative_chunk_scales)
    if max_coordinate_ratio is not None and not max_coordinate_ratio > 0:
      raise ValueError(f"max_coordinate_ratio must be positive or None, got {max_coordinate_ratio}.")
    self.max_coordinate_ratio = None if max_coordinate_ratio is None else float(max_coordinate_ratio)
    self.align_with_adam = bool(align_with_adam)
    self.orthogonalize = bool(orthogonalize)
    if self.orthogonalize and rule != "v2":
      raise ValueError("orthogonalize=True is an option of rule='v2'; drop it for a v1 optimizer.")
    if init_scale_reference is not None and (rule != "v2" or not init_scale_reference > 0):
      raise ValueError(f"init_scale_reference must be a positive float (an option of rule='v2') or "
                       f"None, got {init_scale_reference!r} with rule={rule!r}.")
    self.init_scale_reference = (None if init_scale_reference is None
                                 else float(init_scale_reference))
    self.use_cam = bool(use_cam)
    self.hide_horizon_prob = float(hide_horizon_prob)
    if chunk_length < 1:
      raise ValueError(f"chunk_length must be a positive integer, got {chunk_length}.")
    if len(pool_factors) != 2 or any(int(f) < 1 for f in pool_factors):
      raise ValueError(f"pool_factors must be two positive integers (HPE has two pooling layers), "
                       f"got {pool_factors!r}.")
    if max_log_magnitude is not None and not max_log_magnitude > 0:
      raise ValueError(f"max_log_magnitude must be positive or None, got {max_log_magnitude}.")
    if compute_dtype not in ("float32", "bfloat16"):
      raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16', got {compute_dtype!r}.")
    if tau < 0:
      raise ValueError(f"tau must be >= 0 (it is a discount exp(-tau)), got {tau}.")
    if stream_multiple is not None and int(stream_multiple) < 1:
      raise ValueError(f"stream_multiple must be a positive integer or None, got {stream_multiple}.")
    self.stream_multiple = None if stream_multiple is None else int(stream_multiple)
    self.mode = mode
    self.chunk_length = int(chunk_length)
    self.pool_factors = tuple(int(f) for f in pool_factors)
    self.model_dim = model_dim
    self.hidden_dim = hidden_dim
    self.cam_features = cam_features
    self.cam_key_dim = cam_key_dim
    self.tau = float(tau)
    self.qk_radius = float(qk_radius)
    self.coord_features = coord_features
    self.coord_key_dim = coord_key_dim
    self.coord_value_dim = coord_value_dim
    self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
    self.step_mult, self.mag_mult = step_mult, mag_mult
    self.max_log_magnitude = None if max_log_magnitude is None else float(max_log_magnitude)
    self.head_init_scale = head_init_scale
    self.skip_nonfinite = skip_nonfinite
    self.compute_dtype = jnp.dtype(compute_dtype)
    self.use_hpe = bool(use_hpe)
    # Chunks per CAM stream: a meta-token pools prod(pool_factors) chunks; without HPE every chunk
    # is its own stream.
    self.chunks_per_stream = math.prod(self.pool_factors) if self.use_hpe else 1
    if rule == "v1":
      self.num_directions = _NUM_BASE_DIRECTIONS + (coord_value_dim if mode == "per_coordinate" else 0)
      self.num_head_outputs = self.num_directions + 1          # coefficients a, log-magnitude b
      self.num_time_features = 1 + len(_TIME_SCALES)
      # 7 statistics (the tensor's log-size among them), the time features, the chunk's fill
      self.token_input_dim = _NUM_CHUNK_STATS + self.num_time_features + 1
    else:
      self.num_directions = _V2_DIRECTIONS
      self.num_head_outputs = _V2_DIRECTIONS + 2               # logits z, relative scale r, u
      self.num_time_features = _V2_TIME_FEATURES
      # 7 statistics, the time features, the tensor's log-size, the chunk's fill
      self.token_input_dim = _V2_CHUNK_STATS + self.num_time_features + 1 + 1
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(feature_seed), 3)
    # Fixed buffers, drawn eagerly (each draw's ops compile once per process: about a second each);
    # the per-coordinate CAM's only in the mode that uses it.
    self.hpe_projection = random_features.draw_projection(k1, hpe_features, hpe_key_dim, orthogonal_features)
    self.cam_projection = random_features.draw_projection(k2, cam_features, cam_key_dim, orthogonal_features)
    self.coord_projection = (
        random_features.draw_projection(k3, coord_features, coord_key_dim, orthogonal_features)
        if mode == "per_coordinate" else None)

  # --- meta-parameters -------------------------------------------------------------------------
  def init(self, key) -> lopt_base.MetaParams:
    """theta: a dict of float32 arrays (HPE, CAM projections, head; coordinate CAM if used)."""
    k_hpe, k_cam, k_head1, k_head2, k_coord = jax.random.split(key, 5)
    d = self.model_dim
    kq, kk, kv, ko = jax.random.split(k_cam, 4)
    if self.rule == "v1":   # a = [1, 0, ...], b = 0: Adam with learning rate step_mult
      head_bias = jnp.zeros((self.num_head_outputs,), jnp.float32).at[0].set(1.0)
    else:                   # pi ~ [0.96, 0.02, 0.02] (Adam), w = 1, s = exp(-softplus(-2)) = 0.88
      # whatever B_g: u0 = B_g - log(expm1(B_g + softplus(-2))) solves B_g - softplus(B_g - u0) =
      # -softplus(-2) (u0 = 2 at B_g = 0)
      bg = self.max_log_gain
      u0 = 2.0 if bg == 0 else bg - math.log(math.expm1(bg + math.log1p(math.exp(-2.0))))
      head_bias = jnp.asarray([4.0, 0.0, 0.0, 0.0, u0], jnp.float32)
    theta = {
        "hpe": hpe.hpe_init(k_hpe, self.token_input_dim, d, self.hpe_projection.shape[1],
                            self.hidden_dim, len(self.pool_factors)),
        "head": {"fc1": nn.dense_init(k_head1, 2 * d, self.hidden_dim),
                 "fc2": nn.dense_init(k_head2, self.hidden_dim, self.num_head_outputs,
                                      scale=self.head_init_scale, bias=head_bias)},
    }
    if not self.use_hpe:
      theta["hpe"] = {"embed": theta["hpe"]["embed"]}
    if self.mode == "meta_token":
      theta["cam"] = {"ln": nn.layer_norm_init(d),
                      "q": nn.dense_init(kq, d, self.cam_key_dim), "k": nn.dense_init(kk, d, self.cam_key_dim),
                      "v": nn.dense_init(kv, d, d), "o": nn.dense_init(ko, d, d, scale=0.5)}
    else:
      n = self.coord_key_dim
      theta["coord_cam"] = {"q": nn.dense_init(kq, 2, n), "k": nn.dense_init(kk, 2, n),
                            "v": nn.dense_init(kv, 2, self.coord_value_dim)}
    return theta

  def opt_fn(self, theta, is_training: bool = False) -> opt_base.Optimizer:
    return _MnemosyneOptimizer(self, theta, is_training)

  # --- sizes -----------------------------------------------------------------------------------
  def num_streams(self, shape) -> int:
    """CAM streams of a tensor of ``shape`` in meta_token mode: its meta-tokens (its chunks
    without HPE), ceil(chunks / prod(pool_factors))."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return -(-hpe.ChunkLayout(shape, self.chunk_length).num_chunks // self.chunks_per_stream)

  def num_memory_streams(self, shapes) -> int:
    """S, the streams of the tree's meta-token CAM memory: the tensors' streams, padded up to a
    multiple of ``stream_multiple`` (see the constructor)."""
    real = sum(self.num_streams(s) for s in shapes)
    multiple = self.stream_multiple
    if multiple is None:
      multiple = 1
      while 2 * multiple <= min(real / 8, 1024):
        multiple *= 2
    return -(-real // multiple) * multiple

  def num_moment_rows(self, shapes) -> int:
    """C, the rows of ``MnemosyneState.chunk_moments``: prod(pool_factors) chunks per memory
    stream (S x F, so they shard over a mesh wherever the memory does); 0 in v2, whose
    statistics pass reads m and v and needs no carried sums."""
    if self.rule == "v2":
      return 0
    return self.num_memory_streams(shapes) * self.chunks_per_stream

  def stream_slices(self, shapes):
    """Per tensor (in tree-leaf order), the slice of the tree's memory streams that holds its
    meta-tokens: ``state.memory.memory[lopt.stream_slices(shapes)[i]]``."""
    ends = np.cumsum([0] + [self.num_streams(s) for s in shapes])
    return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]

  # --- one tensor ------------------------------------------------------------------------------
  def _chunk_sums(self, layout: hpe.ChunkLayout, p, g, m):
    """Per-chunk sums of g^2, g m (OLD m) and p^2 (``hpe.ChunkLayout.sums``); the sums of m^2 and
    v need no pass, they are carried in ``chunk_moments``.

    They are also the non-finite check at no extra pass: sum(g^2) is finite exactly when all the
    chunk's g are, or when it overflows float32 (|g| beyond about sqrt(3.4e38 / chunk_length),
    6e17 at the default 1024: no usable gradient); the other sums stay finite while p and m do.
    """
    f32 = jnp.float32
    pc, gc, mc = (layout.view(jnp.asarray(x).astype(f32)) for x in (p, g, m))
    if not layout.view_inserts_axis_only:
      # Keeps XLA from moving the view's reshape below the products (g * g on the tensor's own
      # shape, then reshaped), a form its vectorised sums run 2.3x slower (2048x2048 tensors:
      # 6.0 vs 2.6 ms at 4M parameters on one core; 512x512: 3.9 vs 2.5 ms).  Where the view only
      # inserts a length-1 axis the barrier would cost a copy instead (1024x1024: 2.8 -> 17 ms).
      pc, gc, mc = jax.lax.optimization_barrier((pc, gc, mc))
    return layout.sums((gc * gc, gc * mc, pc * pc))

  def _chunk_network(self, theta, layouts, sums, moments, memory, iteration, num_steps, finite):
    """Per-chunk coefficients [n_i, num_directions + 1] of every tensor, the new CAM memory and the
    new ``chunk_moments``.

    All tensors' chunk tokens go through the network together (one HPE, one CAM step, one head
    for the whole tree, so the update costs a few dozen small ops however many tensors there
    are): each tensor's tokens are padded (masked) to a multiple of F = prod(pool_factors), its
    Performer attends within the tensor (``hpe.segment_linear_attention``) and pooling groups
    never span two tensors, which makes it equal to running the network on each tensor alone.
    In meta_token mode the meta-tokens, tensor after tensor, are the first streams of ``memory``
    ([S, r, d]); its padding streams are never written.  The CAM step is elementwise over streams,
    so a memory sharded on its stream axis is updated where it lies.

    The chunk statistics of the NEW accumulators m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g^2
    follow exactly from sums over the old ones, sum g^2 and sum g m (``_chunk_sums``) and the
    carried sum m^2 and sum v (``moments``, zero at init like m and v):
        sum m'^2 = b1^2 sum m^2 + 2 b1 (1 - b1) sum g m + (1 - b1)^2 sum g^2,
        sum g m' = b1 sum g m + (1 - b1) sum g^2,       sum v' = b2 sum v + (1 - b2) sum g^2;
    sum m'^2 and sum v' are the next step's carried moments (kept where not ``finite``, as m, v).
    Rounding errors of the carried sums decay like b1^2t and b2^t, they do not accumulate.
    """
    b1, b2, L = self.beta1, self.beta2, self.chunk_length
    f32 = jnp.float32
    offsets = self._row_offsets(layouts)
    padded = np.diff(offsets)
    total = int(offsets[-1])
    pad_rows = lambda x, i: jnp.pad(x, [(0, padded[i] - x.shape[0])] + [(0, 0)] * (x.ndim - 1))
    raw = jnp.concatenate([pad_rows(jnp.stack(sm, axis=-1), i) for i, sm in enumerate(sums)])
    # Keeps XLA from merging the big per-coordinate reductions into the network's first matmul
    # (a fusion measured 10x slower than the two apart on tensors whose rows span chunks).
    raw = jax.lax.optimization_barrier(raw)
    gg, gm_old, pp = (raw[:, j] for j in range(3))
    mm_old, vs_old = moments[:total, 0], moments[:total, 1]
    # Rounding can leave a tiny negative sum m'^2 where m' nearly cancels over a whole chunk.
    mm = jnp.maximum(b1 * b1 * mm_old + 2.0 * b1 * (1.0 - b1) * gm_old + (1.0 - b1) ** 2 * gg, 0.0)
    gm = b1 * gm_old + (1.0 - b1) * gg
    vs = b2 * vs_old + (1.0 - b2) * gg
    t = (iteration + 1).astype(f32)
    bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t

    count, log_size, segment_ids = self._token_constants(layouts, offsets)
    n = jnp.asarray(np.maximum(count, 1.0))
    log_rms = lambda mean_square: 0.05 * jnp.log(mean_square + _TINY)     # log(sqrt(.)) / 10
    time_feats = _time_features(iteration, num_steps)
    # A chunk token's inputs: its 7 statistics, the time features (the same for every chunk, at
    # input rows 7..11 of the embedding, embedded once: ``hpe.embed``) and its fill.
    tokens_in = jnp.stack([
        log_rms(gg / n), log_rms(mm / n / bc1 ** 2), log_rms(vs / n / bc2), log_rms(pp / n),
        (mm / bc1 ** 2) / (vs / bc2 + _TINY),          # signal-to-noise of the chunk's Adam direction
        # gradient/momentum correlation, within [-1, 1] by Cauchy-Schwarz; clipped because the
        # carried sum m'^2 can lose all its digits to cancellation where m' nearly vanishes over a
        # chunk (a one-coordinate tensor whose momentum crosses zero), and the ratio then reached
        # -1.9e7 and blew the step up (tests/test_stability.py).
        jnp.clip(gm * jax.lax.rsqrt(gg * mm + _TINY), -1.0, 1.0),
        jnp.asarray(log_size), jnp.asarray(count / L)], axis=-1)
    coeffs, memory = self._trunk(theta, tokens_in, time_feats, _NUM_CHUNK_STATS, count,
                                 segment_ids, len(layouts), memory, finite)
    log_mag = self.mag_mult * coeffs[:, -1]
    if self.max_log_magnitude is not None:
      log_mag = self.max_log_magnitude * jnp.tanh(log_mag / self.max_log_magnitude)
    coeffs = coeffs.at[:, -1].set(self.step_mult * jnp.exp(log_mag))
    per_tensor = [coeffs[offsets[i]:offsets[i] + lay.num_chunks] for i, lay in enumerate(layouts)]
    new_moments = jnp.pad(jnp.stack([mm, vs], axis=-1), [(0, moments.shape[0] - total), (0, 0)])
    return per_tensor, memory, jnp.where(finite, new_moments, moments)

  def _token_constants(self, layouts, offsets):
    """Static per-token constants: real coordinates per chunk, the tensor's log-size / 10, and
    the tensor (segment) id of every token row (rows padded to a multiple of prod(pool_factors))."""
    total = int(offsets[-1])
    count = np.zeros((total,), np.float32)
    log_size = np.zeros((total,), np.float32)
    segment_ids = np.zeros((total,), np.int32)
    for i, lay in enumerate(layouts):
      count[offsets[i]:offsets[i] + lay.num_chunks] = lay.counts
      log_size[offsets[i]:offsets[i + 1]] = math.log(max(lay.size, 1)) / 10.0
      segment_ids[offsets[i]:offsets[i + 1]] = i
    return count, log_size, segment_ids

  def _trunk(self, theta, tokens_in, time_feats, time_column, count, segment_ids, num_tensors,
             memory, finite):
    """The shared network: HPE over the chunk tokens (``tokens_in`` [total, k], with the
    ``time_feats`` shared by every chunk inserted at input row ``time_column``), CAM over the
    meta-tokens (``memory`` written where ``finite``), and the head on [chunk token, context of
    its meta-token].  Returns (head outputs [total, num_head_outputs] float32, new memory)."""
    f32 = jnp.float32
    F = self.chunks_per_stream
    total = tokens_in.shape[0]
    time_columns = list(range(time_column, time_column + time_feats.shape[0]))
    # The per-chunk network runs in compute_dtype (weights cast here; theta itself stays float32).
    cd = lambda x: x.astype(self.compute_dtype)
    net = lambda tree: jax.tree_util.tree_map(cd, tree)
    if self.use_hpe:
      chunk_tokens, meta, _ = hpe.hpe_encode(
          net(theta["hpe"]), cd(tokens_in), jnp.asarray(count > 0),
          self.hpe_projection, self.pool_factors, self.qk_radius,
          segment_ids=jnp.asarray(segment_ids), num_segments=num_tensors,
          shared_inputs=cd(time_feats), shared_columns=time_columns)
    else:   # ablation: chunk embeddings, no Performer across chunks, no pooling
      chunk_tokens = hpe.embed(net(theta["hpe"])["embed"], cd(tokens_in), cd(time_feats), time_columns)
      meta = chunk_tokens

    if self.mode == "meta_token" and self.use_cam:
      c = net(theta["cam"])
      streams, num_memory = total // F, memory.normaliser.shape[0]
      xi = jnp.pad(nn.layer_norm(c["ln"], meta), [(0, num_memory - streams), (0, 0)])
      written = finite & (jnp.arange(num_memory) < streams)[:, None]     # padding stays empty
      memory, out = self._cam_step(c, xi, self.cam_projection, memory, written)
      context = meta + nn.dense(c["o"], out[:streams].astype(self.compute_dtype))
    else:
      context = meta

    chunk_context = context[jnp.arange(total) // F]
    head = net(theta["head"])
    hidden = jax.nn.gelu(nn.dense(head["fc1"], jnp.concatenate([chunk_tokens, chunk_context], -1)))
    out = jnp.dot(hidden, head["fc2"]["w"], preferred_element_type=f32) + theta["head"]["fc2"]["b"]
    return out, memory

  def _cam_step(self, c, xi, projection, memory: cam.CAMState, keep):
    """One CAM write-then-read of inputs xi [..., n_in] with projections ``c`` (q, k, v); the new
    memory is kept where ``keep`` (a bool broadcastable to the streams [...], e.g. the finite
    flag).  Returns (memory, read-out)."""
    phi = lambda w: random_features.hyperbolic_features(
        random_features.bounded(nn.dense(w, xi), self.qk_radius), projection)
    new, out = cam.cam_step(memory, phi(c["k"]), phi(c["q"]), nn.dense(c["v"], xi), self.tau)
    gate = lambda a, b: jnp.where(jnp.reshape(keep, jnp.shape(keep) + (1,) * (a.ndim - jnp.ndim(keep))), a, b)
    return jax.tree_util.tree_map(gate, new, memory), out

  def _apply(self, theta, layout: hpe.ChunkLayout, p, g, m, v, coeffs, memory, iteration, finite):
    """New (p, m, v, memory) of one tensor: ONE elementwise pass over its coordinates.

    m' and v' (gated by ``finite``) and the step are written into their donated buffers; each
    chunk's coefficients are broadcast to its coordinates (``hpe.ChunkLayout``, whose view only
    splits the last axis, so sharded parameters are never gathered).  In ``per_coordinate`` mode
    the coordinate CAM runs here and its read-outs join the direction features.
    """
    b1, b2, eps = self.beta1, self.beta2, self.epsilon
    f32 = jnp.float32
    p32, g32 = p.astype(f32), g.astype(f32)
    m = jnp.where(finite, b1 * m + (1.0 - b1) * g32, m)
    v = jnp.where(finite, b2 * v + ((1.0 - b2) * g32) * g32, v)
    t = (iteration + 1).astype(f32)
    bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t
    m_hat = m / bc1
    rs = 1.0 / (jnp.sqrt(v / bc2) + eps)
    adam_dir, grad_dir = m_hat * rs, g32 * rs
    directions = [adam_dir, grad_dir, jnp.sign(m_hat), p32]
    if self.mode == "per_coordinate":     # memory: p.shape + (r, d_coord), laid out like p
      xi = jnp.stack([grad_dir, adam_dir], axis=-1)
      memory, out = self._cam_step(theta["coord_cam"], xi, self.coord_projection, memory, finite)
      directions.extend(out[..., j] for j in range(self.coord_value_dim))
    per_coordinate = layout.broadcast
    direction = sum(per_coordinate(coeffs[:, k]) * f for k, f in enumerate(directions))
    step = direction * per_coordinate(coeffs[:, -1])
    new_p = p32 - jnp.where(finite, step, 0.0)
    return new_p.astype(p.dtype), m, v, memory


  # --- rule v2 ---------------------------------------------------------------------------------
  def _accumulate_v2(self, g, m, v):
    """(m', v'): Adam's accumulators after gradient g (module docstring)."""
    b1, b2 = self.beta1, self.beta2
    return b1 * m + (1.0 - b1) * g, b2 * v + ((1.0 - b2) * g) * g

  def _directions_v2(self, g, m1, v1, iteration):
    """(A, G, S) from g and the new accumulators m', v' at update ``iteration`` (0-based)."""
    t = (iteration + 1).astype(jnp.float32)
    rs = 1.0 / (jnp.sqrt(v1 / (1.0 - self.beta2 ** t)) + self.epsilon)
    return (m1 / (1.0 - self.beta1 ** t)) * rs, g * rs, jnp.sign(m1)

  def _features_v2(self, g, m, v, iteration):
    """(m', v', A, G, S) of one tensor (any shape), float32: the v2 directions (module docstring)."""
    m1, v1 = self._accumulate_v2(g, m, v)
    return (m1, v1) + self._directions_v2(g, m1, v1, iteration)

  def _chunk_sums_v2(self, layout: hpe.ChunkLayout, g, m, v, iteration):
    """Per-chunk sums [num_chunks, 7] of A^2, G^2, A G, |A| (= A S), G S, |S| (= S^2) and v': the
    Gram matrix of the directions (A, G, S) and the second moment, in one pass over g, m, v (not
    p).

    They are also the non-finite check: a NaN or Inf in g makes G (and A) non-finite; the sums
    overflow float32 only where |g| exceeds ~1e19.
    """
    xs = tuple(jnp.asarray(x).astype(jnp.float32) for x in (g, m, v))

    def products(gc, mc, vc):               # all zero where g = m = v = 0 (padding)
      _, v1, a, gr, sg = self._features_v2(gc, mc, vc, iteration)
      return (a * a, gr * gr, a * gr, jnp.abs(a), gr * sg, jnp.abs(sg), v1)
    return layout.map_sums(products, xs, stacked=True)

  def _row_offsets(self, layouts):
    """First row of each tensor in the network's token matrix, and the total: tensor i's chunks
    are rows offsets[i] to offsets[i] + num_chunks_i, then zero rows up to a multiple of F."""
    F = self.chunks_per_stream
    padded = [-(-lay.num_chunks // F) * F for lay in layouts]
    return np.concatenate([[0], np.cumsum(padded)]).astype(int)

  def _tree_sums_v2(self, layouts, gs, ms, vs, iteration):
    """The per-chunk sums of ``_chunk_sums_v2`` of every tensor as one [rows, 7] matrix in the
    network's row order (``_row_offsets``; padding rows zero).

    The vectors and scalars of a single chunk (biases, norms) are summed together: their g, m, v
    zero-padded to a common width W (a multiple of 8) and stacked as the rows of one [n, W]
    tensor, whose row sums are their chunk sums (the padding adds 0).  Matrices are not stacked:
    a sharded kernel would be gathered to be stacked, and the statistics of a sharded tensor are
    otherwise local sums and an all-reduce.  The matrix is then one gather (static indices) from
    the stacked sums.  Per tensor, a pass of its own and the copies into the matrix cost XLA:CPU a
    few kernels each, a fixed cost that dominates the update of a model's many small tensors."""
    offsets = self._row_offsets(layouts)
    single = [i for i, lay in enumerate(layouts)
              if lay.num_chunks == 1 and lay.kind != "empty" and len(lay.shape) <= 1]
    if len(single) < 2:
      single = []
    blocks = [jnp.zeros((1, _V2_SUMS), jnp.float32)]      # source row 0: the padding rows
    source = np.zeros((offsets[-1],), np.int32)
    cursor = 1
    if single:
      width = -(-max(layouts[i].size for i in single) // hpe.LANE_GROUPS) * hpe.LANE_GROUPS

      def stack(xs):                          # one concatenation (a single kernel) per input
        parts = []
        for i in single:
          parts.append(jnp.ravel(jnp.asarray(xs[i])).astype(jnp.float32))
          if width > layouts[i].size:
            parts.append(jnp.zeros((width - layouts[i].size,), jnp.float32))
        return jnp.concatenate(parts).reshape(len(single), width)
      blocks.append(self._chunk_sums_v2(hpe.ChunkLayout((len(single), width), width),
                                        stack(gs), stack(ms), stack(vs), iteration))
      source[offsets[single]] = cursor + np.arange(len(single))
      cursor += len(single)
    joint = set(single)
    for i, (lay, g, m, v) in enumerate(zip(layouts, gs, ms, vs)):
      if i not in joint:
        blocks.append(self._chunk_sums_v2(lay, g, m, v, iteration))
        source[offsets[i]:offsets[i] + lay.num_chunks] = cursor + np.arange(lay.num_chunks)
        cursor += lay.num_chunks
    return jnp.take(jnp.concatenate(blocks), jnp.asarray(source), axis=0,
                    indices_are_sorted=False, unique_indices=False)

  def _chunk_network_v2(self, theta, layouts, raw, memory, iteration, num_steps, finite):
    """Per tensor the per-chunk coefficients k_c = s w_c pi_c / sqrt(Q / N) [n_i, 3] of (A, G, S),
    so that Delta = k_c . (A, G, S) (module docstring), and the new CAM memory; ``raw``: the
    [rows, 7] sums of ``_tree_sums_v2``."""
    L = self.chunk_length
    offsets = self._row_offsets(layouts)
    raw = jax.lax.optimization_barrier(raw)     # as in _chunk_network
    aa, gg, ag, abs_a, gs, live, vs = (raw[:, j] for j in range(_V2_SUMS))
    count, log_size, segment_ids = self._token_constants(layouts, offsets)
    num_tensors = len(layouts)
    seg = jnp.asarray(segment_ids)
    sizes = jnp.asarray([max(lay.size, 1) for lay in layouts], jnp.float32)
    n = jnp.asarray(np.maximum(count, 1.0))
    mean_v = _segment_sums(vs, seg, num_tensors) / sizes
    # Scale-free chunk statistics, each bounded (|A| <= ~7.3 and |G| <= 1/sqrt(1 - b2) for Adam's
    # accumulators; the relative log-RMS of v' is clipped).
    rel_v = jnp.clip(0.25 * (jnp.log(vs / n + _TINY) - jnp.log(mean_v[seg] + _TINY)), -5.0, 5.0)
    tokens_in = jnp.stack([
        jnp.sqrt(aa / n), jnp.minimum(jnp.sqrt(gg / n), 10.0), abs_a / n,
        jnp.clip(ag * jax.lax.rsqrt(aa * gg + _TINY), -1.0, 1.0),
        jnp.clip(gs / n, -10.0, 10.0), live / n, rel_v,
        jnp.asarray(log_size), jnp.asarray(count / L)], axis=-1)
    out, memory = self._trunk(theta, tokens_in, _time_features_v2(iteration, num_steps),
                              _V2_CHUNK_STATS, count, segment_ids, num_tensors, memory, finite)
    coeffs = self.v2_coefficients(out, raw, jnp.asarray(count), seg, sizes)
    return [coeffs[offsets[i]:offsets[i] + lay.num_chunks] for i, lay in enumerate(layouts)], memory

  def v2_coefficients(self, out, sums, count, segment_ids, sizes):
    """k_c = s w_c pi_c / sqrt(Q / N): the v2 step's per-chunk coefficients of (A, G, S).

    Args:
      out: head outputs [C, 5] (mixing logits z, relative log-scale r, tensor-scale logit u).
      sums: [C, 7] per-chunk sums (AA, GG, AG, |A|, G S, |S|, v'), ``_chunk_sums_v2``.
      count: [C] coordinates per chunk (0 for padding rows); segment_ids: [C] tensor of each row;
      sizes: [num_tensors] coordinates per tensor (N; 1 for an empty tensor).

    Returns [C, 3]; over each tensor sum_i (k_c . f_i)^2 / N = s^2 min(rms_w^2 G^2, 1) exactly,
    rms_w^2 = Q / N (module docstring; = s^2 with max_step_gain=None).
    """
    num_tensors = sizes.shape[0]
    aa, gg, ag, abs_a, gs, live = (sums[:, j] for j in range(6))
    pi = jax.nn.softmax(out[:, :_V2_DIRECTIONS], axis=-1)
    br = self.max_relative_log_scale
    w = jnp.exp(br * jnp.tanh(out[:, _V2_DIRECTIONS] / br)) if br > 0 else jnp.ones_like(aa)
    u_bar = _segment_sums(count * out[:, _V2_DIRECTIONS + 1], segment_ids, num_tensors) / sizes
    bg = self.max_log_gain
    scale = jnp.exp(jnp.maximum(bg - jax.nn.softplus(bg - u_bar), -self.max_log_shrink))
    if self.normalize_step:
      pa, pg, ps = pi[:, 0], pi[:, 1], pi[:, 2]
      q = (pa * pa * aa + pg * pg * gg + ps * ps * live
           + 2.0 * (pa * pg * ag + pa * ps * abs_a + pg * ps * gs))      # sum_i d_i^2 in the chunk
      raw = ms = _segment_sums(w * w * jnp.maximum(q, 0.0), segment_ids, num_tensors) / sizes
      if self.max_step_gain is not None and self.relative_chunk_scales:
        # w only redistributes: RMS of the step s min(1, G rms_T(d)), d the mix without w
        mix = _segment_sums(jnp.maximum(q, 0.0), segment_ids, num_tensors) / sizes
        ms = ms / jnp.maximum(jnp.minimum(1.0, self.max_step_gain ** 2 * mix), _TINY)
      elif self.max_step_gain is not None:   # amplify by at most G: divide by max(rms, 1 / G)
        ms = jnp.maximum(ms, 1.0 / self.max_step_gain ** 2)
      if self.max_adam_ratio is not None:    # step RMS s sqrt(raw / ms) <= c rms_T(A)
        cap = self.max_adam_ratio ** 2 * _segment_sums(aa, segment_ids, num_tensors) / sizes
        ms = jnp.maximum(ms, scale * scale * raw / jnp.maximum(cap, _TINY))
      scale = jnp.where(ms > _TINY, scale * jax.lax.rsqrt(jnp.maximum(ms, _TINY)), 0.0)
    return pi * (scale[segment_ids] * w)[:, None]

  def _apply_v2(self, layout: hpe.ChunkLayout, g, m, v, coeffs, iteration, finite):
    """(D, A, m', v') of one tensor: D = k_c . (A, G, S) per coordinate, the step before
    orthogonalisation and the per-coordinate bound (``_finish_v2``); A, Adam's direction, which
    the bound is taken against; the new accumulators m', v' (m and v where not ``finite``).

    m' and v' are materialised first (``optimization_barrier``) and D is computed from them:
    otherwise XLA fuses the accumulators' update into both the state write and the step, and the
    step then reads the OLD m and v after they are overwritten in place, so XLA copies both (two
    extra passes over 8 bytes per parameter)."""
    g32 = g.astype(jnp.float32)
    m1, v1 = self._accumulate_v2(g32, m, v)
    m1, v1 = jax.lax.optimization_barrier((jnp.where(finite, m1, m), jnp.where(finite, v1, v)))
    a, gr, sg = self._directions_v2(g32, m1, v1, iteration)
    bc = layout.broadcast
    return bc(coeffs[:, 0]) * a + bc(coeffs[:, 1]) * gr + bc(coeffs[:, 2]) * sg, a, m1, v1

  def _finish_v2(self, delta, a, finite):
    """The per-coordinate bound of the (orthogonalised) step ``delta`` against Adam's direction
    ``a``; zero where not ``finite``."""
    if self.max_coordinate_ratio is not None and self.align_with_adam:   # Delta_i in [0, c_A A_i]
      bound = self.max_coordinate_ratio * a
      delta = jnp.clip(delta, jnp.minimum(bound, 0.0), jnp.maximum(bound, 0.0))
    elif self.max_coordinate_ratio is not None:     # |Delta_i| <= c_A |A_i|
      bound = self.max_coordinate_ratio * jnp.abs(a)
      delta = jnp.clip(delta, -bound, bound)
    elif self.align_with_adam:                      # Delta_i A_i >= 0
      delta = jnp.where(delta * a > 0.0, delta, 0.0)
    return jnp.where(finite, delta, 0.0)

  def _apply_all_v2(self, layouts, gs, ms, vs, coeffs, iteration, finite):
    """Per tensor (Delta, m', v'): the per-coordinate pass (``_apply_v2``), the matrix steps
    orthogonalised (``orthogonalize.orthogonalize_like_many``: small matrices of one shape in one
    batched iteration), the bound (``_finish_v2``); where not ``finite`` Delta is 0 and m, v are
    kept."""
    parts = [self._apply_v2(lay, g, m, v, c, iteration, finite)
             for lay, g, m, v, c in zip(layouts, gs, ms, vs, coeffs)]
    deltas = [p[0] for p in parts]
    if self.orthogonalize:
      deltas = orthogonal_step.orthogonalize_like_many(deltas)
    return [(self._finish_v2(d, a, finite), m1, v1) for d, (_, a, m1, v1) in zip(deltas, parts)]

  def learning_rate_at(self, count):
    """The v2 learning rate after ``count`` applied updates (a float or the schedule's value)."""
    lr = self.learning_rate
    return jnp.asarray(lr(count) if callable(lr) else lr, jnp.float32)

  def directions(self, theta, state: "MnemosyneState", grads):
    """v2's normalised step Delta (a tree like ``grads``, float32, RMS s <= 1 per tensor) and the
    new state (its ``params`` untouched): what ``scale_by_mnemosyne`` returns before the learning
    rate; a non-finite gradient gives Delta = 0 and leaves the state as it was, apart from
    ``skipped_updates``."""
    if self.rule != "v2":
      raise ValueError("directions() is the v2 rule's normalised step; this optimizer has "
                       f"rule={self.rule!r}.")
    treedef = jax.tree_util.tree_structure(state.momentum)
    _check_grad_tree(treedef, grads)
    gs = [jnp.asarray(x) for x in treedef.flatten_up_to(grads)]
    ms, vs = treedef.flatten_up_to(state.momentum), treedef.flatten_up_to(state.second_moment)
    it = state.iteration
    layouts = [hpe.ChunkLayout(jnp.shape(g), self.chunk_length) for g in gs]
    sums = self._tree_sums_v2(layouts, gs, ms, vs, it) if gs else None
    finite = _all_finite([sums] if gs else []) if self.skip_nonfinite else jnp.asarray(True)
    memory, coeffs = state.memory, []
    if gs:
      coeffs, memory = self._chunk_network_v2(theta, layouts, sums, memory, it, state.num_steps,
                                              finite)
    outs = self._apply_all_v2(layouts, gs, ms, vs, coeffs, it, finite) if gs else []
    unflat = lambda i: treedef.unflatten([o[i] for o in outs])
    deltas = unflat(0)
    if state.step_scales is not None:               # init_scale_reference: Delta <- f Delta
      deltas = jax.tree_util.tree_map(lambda d, f: d * f, deltas, state.step_scales)
    skipped = jnp.logical_not(finite).astype(jnp.int32)
    return deltas, state.replace(
        momentum=unflat(1), second_moment=unflat(2), memory=memory,
        iteration=state.iteration + 1 - skipped, skipped_updates=state.skipped_updates + skipped)


class _MnemosyneOptimizer(opt_base.Optimizer):
  """The inner optimizer for fixed meta-parameters theta (learned_optimization 0.0.1 interface)."""

  def __init__(self, lopt: MnemosyneLOpt, theta, is_training: bool = False):
    self.lopt = lopt
    self.theta = theta
    self.is_training = is_training

  @property
  def name(self):
    return f"Mnemosyne_{self.lopt.rule}_{self.lopt.mode}"

  def init(self, params, model_state=None, num_steps=None, key=None, **kwargs) -> MnemosyneState:
    """State for ``params``; ``num_steps`` is the planned length T of training.  v2 also runs with
    T unknown (``num_steps=None``: its t/T feature is replaced by a "not known" flag)."""
    del kwargs
    _check_params(params)
    lopt = self.lopt
    if num_steps is None and lopt.rule == "v1":
      raise ValueError("Mnemosyne v1 needs the planned number of training steps: pass num_steps "
                       "to init().")
    if isinstance(num_steps, (int, float)) and num_steps <= 0:
      raise ValueError(f"num_steps must be a positive number of training steps, got {num_steps}.")
    num_steps = jnp.asarray(0 if num_steps is None else num_steps, jnp.int32)
    if self.is_training and lopt.hide_horizon_prob > 0 and key is not None:
      hide = jax.random.bernoulli(jax.random.fold_in(key, 17), lopt.hide_horizon_prob)
      num_steps = jnp.where(hide, 0, num_steps)
    zeros = lambda p: jnp.zeros(jnp.shape(p), jnp.float32)
    shapes = [jnp.shape(p) for p in jax.tree_util.tree_leaves(params)]
    if lopt.mode == "meta_token":
      memory = cam.cam_init((lopt.num_memory_streams(shapes),), lopt.cam_features, lopt.model_dim)
    else:
      memory = jax.tree_util.tree_map(
          lambda p: cam.cam_init(jnp.shape(p), lopt.coord_features, lopt.coord_value_dim), params)
    return MnemosyneState(
        params=params, state=model_state,
        momentum=jax.tree_util.tree_map(zeros, params),
        second_moment=jax.tree_util.tree_map(zeros, params),
        chunk_moments=(None if lopt.rule == "v2" else   # v2 needs no carried sums
                       jnp.zeros((lopt.num_moment_rows(shapes), 2), jnp.float32)),
        memory=memory,
        iteration=jnp.asarray(0, jnp.int32),
        num_steps=num_steps,
        skipped_updates=jnp.asarray(0, jnp.int32),
        step_scales=(None if lopt.init_scale_reference is None
                     else initial_step_scales(params, lopt.init_scale_reference)))

  def set_params(self, state: MnemosyneState, params) -> MnemosyneState:
    return state.replace(params=params)

  def update(self, opt_state: MnemosyneState, grad, loss=None, model_state=None, is_valid=False,
             key=None, **kwargs) -> MnemosyneState:
    del loss, is_valid, key, kwargs
    lopt = self.lopt
    if lopt.rule == "v2":
      return self._update_v2(opt_state, grad, model_state)
    treedef = jax.tree_util.tree_structure(opt_state.params)
    _check_grad_tree(treedef, grad)
    leaves = lambda tree: treedef.flatten_up_to(tree)
    ps = [jnp.asarray(x) for x in leaves(opt_state.params)]   # Python floats are valid leaves too
    gs = [jnp.asarray(x) for x in leaves(grad)]
    ms, vs = leaves(opt_state.momentum), leaves(opt_state.second_moment)
    per_coordinate = lopt.mode == "per_coordinate"
    memory = opt_state.memory
    # pylint: disable=protected-access
    layouts = [hpe.ChunkLayout(jnp.shape(p), lopt.chunk_length) for p in ps]
    sums = [lopt._chunk_sums(lay, p, g, m) for lay, p, g, m in zip(layouts, ps, gs, ms)]
    # Every chunk statistic, not only sum g^2: no non-finite input reaches the network and the
    # CAM memory, and the in-place write of m then depends on the sums that read it (so XLA
    # need not copy m before the update).
    finite = _all_finite(sums) if lopt.skip_nonfinite else jnp.asarray(True)
    coeffs, moments = [], opt_state.chunk_moments
    if ps:
      coeffs, memory, moments = lopt._chunk_network(
          self.theta, layouts, sums, moments, memory, opt_state.iteration, opt_state.num_steps,
          finite)
    mems = leaves(memory) if per_coordinate else [None] * len(ps)
    outs = [lopt._apply(self.theta, lay, p, g, m, v, c, mem, opt_state.iteration, finite)
            for lay, p, g, m, v, c, mem in zip(layouts, ps, gs, ms, vs, coeffs, mems)]
    unflat = lambda i: treedef.unflatten([o[i] for o in outs])
    if per_coordinate:
      memory = unflat(3)
    skipped = jnp.logical_not(finite).astype(jnp.int32)
    return MnemosyneState(
        params=unflat(0), state=model_state, momentum=unflat(1), second_moment=unflat(2),
        chunk_moments=moments, memory=memory, iteration=opt_state.iteration + 1 - skipped,
        num_steps=opt_state.num_steps, skipped_updates=opt_state.skipped_updates + skipped)

  def _update_v2(self, opt_state: MnemosyneState, grad, model_state) -> MnemosyneState:
    """p <- p - lr_t (Delta + weight_decay p), Delta from ``MnemosyneLOpt.directions``; p is kept
    exactly (no decay either) on a skipped step."""
    lopt = self.lopt
    deltas, new = lopt.directions(self.theta, opt_state, grad)
    lr = lopt.learning_rate_at(opt_state.iteration)
    applied = new.skipped_updates == opt_state.skipped_updates
    wd = lopt.weight_decay

    def step(p, d):
      p = jnp.asarray(p)
      p32 = p.astype(jnp.float32)
      upd = d + wd * p32 if wd else d
      return jnp.where(applied, p32 - lr * upd, p32).astype(p.dtype)

    treedef = jax.tree_util.tree_structure(opt_state.momentum)
    params = treedef.unflatten([step(p, d) for p, d in zip(treedef.flatten_up_to(opt_state.params),
                                                           treedef.flatten_up_to(deltas))])
    return new.replace(params=params, state=model_state)

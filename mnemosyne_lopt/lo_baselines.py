"""learned_optimization's own learned optimizers, as baselines, with one fix for current JAX.

``RNNMLPLOptJitSafe``: learned_optimization 0.0.1's ``RNNMLPLOpt`` whose validation-loss
normaliser starts with its update counter at 1 instead of 0.  Why: ``RNNMLPLOpt`` reads the
bias-corrected mean of its validation-loss accumulator at every training step,
mean * 1 / (1 - decay^updates + 1e-8); before any validation update (updates = 0, mean = 0) that
is 0 * 1 / (0 + 1e-8) = 0 when run eagerly, but under ``jax.jit`` on current JAX XLA evaluates
(1 - decay^0) + 1e-8 as 0, so the factor is inf and the mean 0 * inf = NaN, which reaches the
parameters on the first jitted step (checked: eager finite, jitted NaN).  With updates = 1 the
factor is 1 / (1 - decay) (finite) and, the mean and variance being 0, every feature equals the eager
0.0.1 value until the first validation update (``is_valid=True``, which neither this project's
evaluation nor its meta-training performs); after one, the bias correction uses 1 / (1 - decay^2)
where the original uses 1 / (1 - decay).  Meta-parameters are the same as ``RNNMLPLOpt``'s.
"""

import gin
import jax.numpy as jnp
from learned_optimization.learned_optimizers import rnn_mlp_lopt


@gin.configurable
class RNNMLPLOptJitSafe(rnn_mlp_lopt.RNNMLPLOpt):
  """``RNNMLPLOpt`` that does not produce NaN on its first jitted step (module docstring)."""

  def opt_fn(self, theta, is_training: bool = False):
    opt = super().opt_fn(theta, is_training)
    original_init = opt.init

    def init(*args, **kwargs):
      state = original_init(*args, **kwargs)
      valid = state.valid_loss_accum
      return state.replace(valid_loss_accum=valid.replace(updates=jnp.ones_like(valid.updates)))

    opt.init = init
    return opt

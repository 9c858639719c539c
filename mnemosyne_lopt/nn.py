"""The few neural-network pieces Mnemosyne is built from, as pure functions over dicts of arrays.

Kept free of any module framework so the meta-parameters are a plain, explicit pytree that
learned_optimization's outer trainers perturb and update directly.
"""

import jax
import jax.numpy as jnp


def dense_init(key, fan_in: int, fan_out: int, scale: float = 1.0, bias=None):
  """Dense layer {w [fan_in, fan_out], b [fan_out]} with variance-scaling (LeCun normal) init."""
  w = jax.random.normal(key, (fan_in, fan_out), jnp.float32) * (scale / jnp.sqrt(float(fan_in)))
  b = jnp.zeros((fan_out,), jnp.float32) if bias is None else jnp.asarray(bias, jnp.float32)
  return {"w": w, "b": b}


def dense(params, x):
  return x @ params["w"] + params["b"]


def sum_last(x, keepdims: bool = False):
  """Sum over the last axis as a product with a vector of ones.

  The same sum as ``jnp.sum(x, -1)`` up to rounding, but XLA:CPU runs a matrix-vector product of a
  [tokens, 8..16] array faster than a reduction over its short last axis (14 vs 22 us for 4,096 x 8
  on one core), and most of the per-chunk network's normalisations are such sums: with them the
  network took 1.7 ms instead of 2.1 at 4M parameters (benchmarks/update_breakdown.py).
  """
  out = x @ jnp.ones((x.shape[-1],), x.dtype)
  return out[..., None] if keepdims else out


def layer_norm_init(dim: int):
  return {"scale": jnp.ones((dim,), jnp.float32), "bias": jnp.zeros((dim,), jnp.float32)}


def layer_norm(params, x, eps: float = 1e-5):
  """(x - mean) / sqrt(var + eps) * scale + bias over the last axis."""
  n = x.shape[-1]
  centred = x - sum_last(x, keepdims=True) / n
  var = sum_last(centred * centred, keepdims=True) / n
  return centred * jax.lax.rsqrt(var + eps) * params["scale"] + params["bias"]


def mlp_init(key, dim: int, hidden: int):
  k1, k2 = jax.random.split(key)
  return {"ln": layer_norm_init(dim), "fc1": dense_init(k1, dim, hidden),
          "fc2": dense_init(k2, hidden, dim, scale=0.5)}


def residual_mlp(params, x):
  """x + W2 gelu(W1 LN(x)): the pre-norm Transformer feed-forward block."""
  return x + dense(params["fc2"], jax.nn.gelu(dense(params["fc1"], layer_norm(params["ln"], x))))

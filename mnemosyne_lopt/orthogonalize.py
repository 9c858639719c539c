"""Orthogonalising a matrix step: the polar factor by a quintic Newton-Schulz iteration.

For a step D of a tensor with at least two axes, seen as the matrix X = D.reshape(R, C) with
C = shape[-1] (a conv kernel [h, w, c_in, c_out] becomes [h w c_in, c_out]), and its singular value
decomposition X = U diag(sigma) V^T, the orthogonalised step is the polar factor U V^T, every
singular value set to 1.  Following Muon (Jordan et al. 2024), it is approximated without an SVD:

    X_0 = X / ||X||_F                           (all singular values in (0, 1])
    X_{k+1} = a X_k + (b A_k + c A_k^2) X_k,    A_k = X_k X_k^T                (k = 0 .. K-1)

with (a, b, c) = (3.4445, -4.7750, 2.0315): each step maps every singular value s to
phi(s) = a s + b s^3 + c s^5, and K = 5 steps carry every singular value of X_0 above 1.5e-3 into
[0.67, 1.21] (not exactly to 1: the coefficients trade precision for speed), while smaller ones
grow about a^5 ~ 485-fold; so X_K ~ U diag(~1) V^T where X is not nearly rank-deficient.
The iteration runs on the wide orientation (X^T when R > C), so A_k is min(R, C)^2.

``orthogonalize_like(D)`` returns X_K rescaled to D's own RMS, rms(D) X_K / rms(X_K): the step's
direction becomes the polar factor's, its size stays the one the learned optimizer chose.  A zero
step stays zero.  Vectors and tensors with an axis of length 1 are returned unchanged.
"""

import math

import jax
import jax.numpy as jnp

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
_TINY = 1e-30


def newton_schulz(x: jax.Array, steps: int = NS_STEPS) -> jax.Array:
  """The quintic Newton-Schulz approximation X_K of the polar factor of a matrix x [R, C]
  (module docstring), float32."""
  x = jnp.asarray(x, jnp.float32)
  if x.ndim != 2:
    raise ValueError(f"newton_schulz takes a matrix, got shape {x.shape}.")
  transpose = x.shape[0] > x.shape[1]
  if transpose:
    x = x.T
  a, b, c = NS_COEFFICIENTS
  x = x / jnp.maximum(jnp.linalg.norm(x), _TINY)
  for _ in range(steps):
    gram = x @ x.T
    x = a * x + (b * gram + c * (gram @ gram)) @ x
  return x.T if transpose else x


def is_matrix(shape) -> bool:
  """Whether a tensor of ``shape`` is orthogonalised: at least two axes, and at least two rows
  and two columns once seen as [prod(shape[:-1]), shape[-1]]."""
  shape = tuple(shape)
  return len(shape) >= 2 and shape[-1] >= 2 and math.prod(shape[:-1]) >= 2


def orthogonalize_like(d: jax.Array, steps: int = NS_STEPS) -> jax.Array:
  """rms(d) X_K / rms(X_K) for a matrix-like tensor d (module docstring), in d's shape and float32;
  d itself (as float32) for a vector."""
  d = jnp.asarray(d, jnp.float32)
  if not is_matrix(d.shape):
    return d
  x = newton_schulz(d.reshape(-1, d.shape[-1]), steps).reshape(d.shape)
  rms_d = jnp.sqrt(jnp.mean(d * d))
  rms_x = jnp.sqrt(jnp.mean(x * x))
  return jnp.where(rms_x > _TINY, x * (rms_d / jnp.maximum(rms_x, _TINY)), 0.0)

"""The default's Newton-Schulz polar factor against the same polynomial through an eigendecomposition.

``orthogonalize.newton_schulz`` maps X_0 = X / ||X||_F through K quintic steps,
X_{k+1} = (a + b A_k + c A_k^2) X_k with A_k = X_k X_k^T; every X_k is p_k(A_0) X_0 for a polynomial
p_k, so with A_0 = U diag(lambda) U^T (symmetric eigendecomposition, r x r for the wide
orientation r <= c)

    X_K = U diag(t_K) U^T X_0,    t_0 = 1,  t_{k+1} = t_k (a + b t_k^2 lambda + c t_k^4 lambda^2),

the same matrix in exact arithmetic at 2 r^2 c multiply-adds plus one r x r eigendecomposition,
against 5 (2 r^2 c + r^3).  This script times both (jit, one process, best of 5 x 3 calls) and
prints their largest difference relative to the largest entry:

    PYTHONPATH=. taskset -c 0 .venv/bin/python benchmarks/polar_eigh.py
"""

import time

import jax
import jax.numpy as jnp

from mnemosyne_lopt import orthogonalize

SHAPES = ((64, 64), (64, 256), (256, 1024), (512, 512), (768, 768), (768, 3072), (1024, 1024))


def polar_eigh(x, steps=orthogonalize.NS_STEPS):
  """newton_schulz(x) through the eigendecomposition of the Gram matrix (module docstring)."""
  a, b, c = orthogonalize.NS_COEFFICIENTS
  x = jnp.asarray(x, jnp.float32)
  transpose = x.shape[0] > x.shape[1]
  if transpose:
    x = x.T
  x = x / jnp.maximum(jnp.linalg.norm(x), 1e-30)
  lam, u = jnp.linalg.eigh(x @ x.T)
  lam = jnp.maximum(lam, 0.0)
  t = jnp.ones_like(lam)
  for _ in range(steps):
    t2 = t * t * lam
    t = t * (a + b * t2 + c * t2 * t2)
  y = (u * t) @ (u.T @ x)
  return y.T if transpose else y


def best_ms(f, x):
  best = float("inf")
  for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(3):
      f(x).block_until_ready()
    best = min(best, (time.perf_counter() - t0) / 3)
  return 1e3 * best


def main():
  ns, eig = jax.jit(orthogonalize.newton_schulz), jax.jit(polar_eigh)
  print("| shape | Newton-Schulz ms | eigendecomposition ms | NS / eig | max difference / max entry |")
  print("|---|---:|---:|---:|---:|")
  for shape in SHAPES:
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    y_ns, y_eig = ns(x), eig(x)
    err = float(jnp.max(jnp.abs(y_ns - y_eig)) / jnp.max(jnp.abs(y_ns)))
    t_ns, t_eig = best_ms(ns, x), best_ms(eig, x)
    print(f"| {shape[0]} x {shape[1]} | {t_ns:.2f} | {t_eig:.2f} | {t_ns / t_eig:.2f} | {err:.1e} |",
          flush=True)


if __name__ == "__main__":
  main()

"""Float32 error of the direct and the Gram Newton-Schulz forms against the direct recursion in
float64, on wide matrices of MiniLM's shapes whose singular values fall from 1 to e^-decay."""
import numpy as np, jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
from mnemosyne_lopt import orthogonalize as o
rng = np.random.default_rng(0)
def case(r, n, decay):
  u, _ = np.linalg.qr(rng.standard_normal((n, r)))
  v, _ = np.linalg.qr(rng.standard_normal((r, r)))
  s = np.exp(-decay * np.linspace(0, 1, r))
  return (u * s) @ v.T    # n x r, singular values from 1 to e^-decay
for (n, r) in [(30522, 384), (1536, 384)]:
  for decay in [0, 5, 10, 15]:
    x = case(r, n, decay).T   # wide r x n
    ref = np.asarray(o._newton_schulz_direct(jnp.asarray(x, jnp.float64)))
    x32 = jnp.asarray(x, jnp.float32)
    d = np.asarray(o._newton_schulz_direct(x32)); g = np.asarray(o._newton_schulz_gram(x32))
    big = np.abs(ref).max()
    sv_ref = np.linalg.svd(ref, compute_uv=False); sv_g = np.linalg.svd(g.astype(np.float64), compute_uv=False); sv_d = np.linalg.svd(d.astype(np.float64), compute_uv=False)
    print(f"{n}x{r} smin=e^-{decay}: direct err {np.abs(d-ref).max()/big:.2e} gram err {np.abs(g-ref).max()/big:.2e}  "
          f"rel-fro direct {np.linalg.norm(d-ref)/np.linalg.norm(ref):.2e} gram {np.linalg.norm(g-ref)/np.linalg.norm(ref):.2e}  "
          f"sv min ref {sv_ref.min():.3f} d {sv_d.min():.3f} g {sv_g.min():.3f}", flush=True)

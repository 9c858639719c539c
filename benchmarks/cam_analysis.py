"""Read-out error of the compact associative memory (CAM) against exact attention.

Exact (discounted) causal softmax attention over a history of queries q_t, keys k_s in R^n and
values v_s in R^d is

    out_t = sum_{s<=t} e^{-tau (t-s)} exp(q_t.k_s) v_s / sum_{s<=t} e^{-tau (t-s)} exp(q_t.k_s).

CAM (``mnemosyne_lopt.cam``) replaces exp(q.k) by phi(q).phi(k) with the r positive hyperbolic
random features phi = ``random_features.hyperbolic_features(., draw_projection(key, r, n))``
(E[phi(q).phi(k)] = exp(q.k)) and runs the recurrence ``cam_step`` over the history
(``jax.lax.scan``):

    N_t   = e^{-tau} N_{t-1}   + phi(k_t) v_t^T,      Psi_t = e^{-tau} Psi_{t-1} + phi(k_t),
    cam_t = N_t^T phi(q_t) / phi(q_t).Psi_t,

so that it holds r (d + 1) numbers whatever the length of the history.

Inputs: q_t, k_t = ``bounded(z, radius)`` of z ~ N(0, I_n) (so |q| = |k| = radius, as in the
optimizer), v_t ~ N(0, I_d).  Error of one run (one seed: its own inputs AND its own projection):

    err(T) = (1/T) sum_{t=1..T} |cam_t - out_t| / |out_t|          (Euclidean norms over d),

reported as the mean (and standard error) over ``--seeds`` runs.  Because both read-outs are causal,
err(T) for every T of a sweep comes from one run of length max(T) (a prefix mean).

Three sweeps around n = cam_key_dim = 8, d = model_dim = 16, radius = qk_radius = 1, r = 16, tau = 0.01,
orthogonal projections (r = 16 was the optimizer's default until sweep (a) showed it no better than
the uniform baseline; the default is now cam_features = 64):
  (a) r in {4, ..., 512} at T = 1000, for tau = 0 and tau = 0.01 (also i.i.d. projections, and
      |q| = |k| = 0.5 and 1.5, ``--extra_radii``), with least-squares fits of the log-log slope
      (a Monte-Carlo error falls like r^-1/2 once r is large enough; the features exp(w.z) are
      log-normal, with a relative variance per feature of e^{|q+k|^2} - 1, i.e. up to
      e^{4 radius^2} - 1, so the larger the radius the later that regime starts and the flatter
      the slope before it);
  (b) T in {10, 100, 1000, 10000} for tau in {0, 0.01} and r in {16, 128};
  (c) tau in {0, 0.001, 0.01, 0.1, 1} at T = 1000 for r in {16, 128}.
Every panel also shows, dashed, the error of the *uniform* baseline that ignores q and k
(exp(q.k) replaced by 1: the discounted mean of the values).  With |q| = |k| = 1 the exact attention
weights only vary within [e^-1, e], so this baseline tells how much of the attention pattern CAM
actually resolves: CAM is only useful where its curve lies below the dashed one.

Writes ``docs/cam_analysis.png`` (three panels) and ``docs/cam_analysis.json``, prints a table.
Reproduce (from the repository root; about 75 s on 2 CPU cores):

    PYTHONPATH=. .venv/bin/python benchmarks/cam_analysis.py

Flags: ``--seeds``, ``--key_dim``, ``--value_dim``, ``--radius``, ``--extra_radii``, ``--seed``,
``--png``, ``--json``.
"""

import argparse
import json
import os
import sys
import time

from benchmark_common import code_version  # pylint: disable=g-import-not-at-top
import mnemosyne_lopt  # noqa: F401  (installs the JAX compatibility shim first)
from mnemosyne_lopt import cam
from mnemosyne_lopt import random_features

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import jax.numpy as jnp
import numpy as np

R_SWEEP = (4, 8, 16, 32, 64, 128, 256, 512)
T_SWEEP = (10, 100, 1000, 10000)
TAU_SWEEP = (0.0, 0.001, 0.01, 0.1, 1.0)
BASE_R, BASE_T, BASE_TAU = 16, 1000, 0.01


def make_inputs(key, num_seeds, length, key_dim, value_dim, radius):
  """q, k [S, T, n] on the sphere of ``radius``; v [S, T, d] standard normal."""
  kq, kk, kv = jax.random.split(key, 3)
  q = random_features.bounded(jax.random.normal(kq, (num_seeds, length, key_dim)), radius)
  k = random_features.bounded(jax.random.normal(kk, (num_seeds, length, key_dim)), radius)
  v = jax.random.normal(kv, (num_seeds, length, value_dim))
  return q, k, v


@jax.jit
def exact_attention(q, k, v, tau):
  """Discounted causal softmax attention, [S, T, d], computed in blocks of 500 query rows."""
  s_len = q.shape[1]
  block = min(500, s_len)
  num_blocks = -(-s_len // block)
  pad = num_blocks * block - s_len
  qp = jnp.pad(q, ((0, 0), (0, pad), (0, 0)))
  positions = jnp.arange(s_len)

  def one_block(i):
    qb = jax.lax.dynamic_slice_in_dim(qp, i * block, block, axis=1)          # [S, B, n]
    tb = i * block + jnp.arange(block)                                        # [B]
    lag = (tb[:, None] - positions[None, :]).astype(jnp.float32)              # [B, T]
    logits = jnp.einsum("sbn,stn->sbt", qb, k) - tau * lag
    logits = jnp.where(lag >= 0, logits, -jnp.inf)
    return jnp.einsum("sbt,std->sbd", jax.nn.softmax(logits, axis=-1), v)

  out = jax.lax.map(one_block, jnp.arange(num_blocks))                        # [blocks, S, B, d]
  out = jnp.moveaxis(out, 0, 1).reshape(q.shape[0], num_blocks * block, v.shape[-1])
  return out[:, :s_len]


@jax.jit
def cam_attention(phi_q, phi_k, v, tau):
  """CAM read-outs [S, T, d] from the recurrence ``cam.cam_step`` scanned over the T steps."""
  num_seeds, _, r = phi_q.shape
  state = cam.cam_init((num_seeds,), r, v.shape[-1])

  def body(state, x):
    pk, pq, vv = x
    return cam.cam_step(state, pk, pq, vv, tau)

  xs = tuple(jnp.swapaxes(a, 0, 1) for a in (phi_k, phi_q, v))
  _, outs = jax.lax.scan(body, state, xs)
  return jnp.swapaxes(outs, 0, 1)


def features(keys, z, num_features, orthogonal):
  """phi(z) [S, T, r], each seed s with its own projection drawn from keys[s]."""
  proj = jnp.stack([random_features.draw_projection(k, num_features, z.shape[-1], orthogonal)
                    for k in keys])
  return jax.vmap(random_features.hyperbolic_features)(z, proj)


def relative_errors(approx, exact):
  """|approx_t - exact_t| / |exact_t| per seed and step, [S, T]."""
  return np.asarray(jnp.linalg.norm(approx - exact, axis=-1) / jnp.linalg.norm(exact, axis=-1))


def prefix_means(err, lengths):
  """For each T in lengths: mean over seeds (and standard error) of the per-seed mean over t < T."""
  out = []
  for length in lengths:
    per_seed = err[:, :length].mean(axis=1)
    out.append((float(per_seed.mean()),
                float(per_seed.std(ddof=1) / np.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0))
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--seeds", type=int, default=16,
                      help="independent runs (inputs and projection) averaged [16]")
  parser.add_argument("--key_dim", type=int, default=8, help="n, width of q and k [8]")
  parser.add_argument("--value_dim", type=int, default=16, help="d, width of v [16]")
  parser.add_argument("--radius", type=float, default=1.0, help="|q| = |k| [1.0]")
  parser.add_argument("--extra_radii", default="0.5,1.5",
                      help="further |q| = |k| for panel (a) (tau = 0.01, orthogonal) [0.5,1.5]")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--png", default="docs/cam_analysis.png")
  parser.add_argument("--json", default="docs/cam_analysis.json")
  args = parser.parse_args(argv)
  args.extra_radii = [float(x) for x in args.extra_radii.split(",") if x.strip()]
  start = time.perf_counter()

  root = jax.random.PRNGKey(args.seed)
  data_key, proj_key = jax.random.split(root)
  t_max = max(T_SWEEP)
  q, k, v = make_inputs(data_key, args.seeds, t_max, args.key_dim, args.value_dim, args.radius)
  seed_keys = list(jax.random.split(proj_key, args.seeds))

  def inputs(length, radius):
    scale = radius / args.radius        # q and k have norm args.radius exactly
    return q[:, :length] * scale, k[:, :length] * scale, v[:, :length]

  def run(r, tau, length, orthogonal=True, radius=args.radius):
    """Per-step relative errors [S, length] of CAM with r features against exact attention."""
    qs, ks, vs = inputs(length, radius)
    exact = exact_cache(tau, length, radius)
    keys = [jax.random.fold_in(s, r) for s in seed_keys]
    approx = cam_attention(features(keys, qs, r, orthogonal), features(keys, ks, r, orthogonal),
                           vs, jnp.float32(tau))
    return relative_errors(approx, exact)

  cache = {}

  def exact_cache(tau, length, radius=args.radius):
    if (tau, length, radius) not in cache:
      cache[(tau, length, radius)] = exact_attention(*inputs(length, radius), jnp.float32(tau))
    return cache[(tau, length, radius)]

  def uniform_error(tau, length, radius=args.radius):
    """Error of the discounted mean of the values (q.k ignored) against exact attention, [S, T]."""
    qs, ks, vs = inputs(length, radius)
    unif = exact_attention(jnp.zeros_like(qs), ks, vs, jnp.float32(tau))
    return relative_errors(unif, exact_cache(tau, length, radius))

  results = dict(config=dict(seeds=args.seeds, key_dim=args.key_dim, value_dim=args.value_dim,
                             radius=args.radius, seed=args.seed, base_r=BASE_R, base_T=BASE_T,
                             base_tau=BASE_TAU, metric="mean_t |cam_t - out_t| / |out_t|, "
                             "mean (and standard error) over seeds",
                             argv=sys.argv, jax_version=jax.__version__, code=code_version()))

  # (a) r sweep at T = BASE_T.
  r_curves = {}
  settings = [(0.0, True, args.radius), (BASE_TAU, True, args.radius), (BASE_TAU, False, args.radius)]
  settings += [(BASE_TAU, True, rad) for rad in args.extra_radii]
  large = np.asarray(R_SWEEP) >= 64
  for tau, orthogonal, radius in settings:
    label = f"tau={tau:g}, {'orthogonal' if orthogonal else 'iid'}, radius {radius:g}"
    vals = [prefix_means(run(r, tau, BASE_T, orthogonal, radius), [BASE_T])[0] for r in R_SWEEP]
    mean = np.array([m for m, _ in vals])
    slope, intercept = np.polyfit(np.log(R_SWEEP), np.log(mean), 1)
    slope_large = np.polyfit(np.log(np.asarray(R_SWEEP)[large]), np.log(mean[large]), 1)[0]
    r_curves[label] = dict(tau=tau, orthogonal=orthogonal, radius=radius, r=list(R_SWEEP),
                           error=mean.tolist(), stderr=[s for _, s in vals],
                           loglog_slope=float(slope), loglog_intercept=float(intercept),
                           loglog_slope_r_ge_64=float(slope_large),
                           uniform_baseline=prefix_means(uniform_error(tau, BASE_T, radius),
                                                         [BASE_T])[0][0])
    print(f"(a) {label}: slope {slope:.3f} (r >= 64: {slope_large:.3f})", file=sys.stderr,
          flush=True)
  results["r_sweep"] = dict(T=BASE_T, curves=r_curves)

  # (b) T sweep: one run of length max(T) per curve, prefix means.
  t_curves = {}
  for tau in (0.0, BASE_TAU):
    unif = prefix_means(uniform_error(tau, t_max), T_SWEEP)
    for r in (BASE_R, 128):
      vals = prefix_means(run(r, tau, t_max), T_SWEEP)
      t_curves[f"r={r}, tau={tau:g}"] = dict(
          r=r, tau=tau, T=list(T_SWEEP), error=[m for m, _ in vals], stderr=[s for _, s in vals],
          uniform_baseline=[m for m, _ in unif])
    print(f"(b) tau={tau:g} done", file=sys.stderr, flush=True)
  results["T_sweep"] = dict(curves=t_curves)

  # (c) tau sweep at T = BASE_T.
  tau_curves = {}
  unif = [prefix_means(uniform_error(tau, BASE_T), [BASE_T])[0][0] for tau in TAU_SWEEP]
  for r in (BASE_R, 128):
    vals = [prefix_means(run(r, tau, BASE_T), [BASE_T])[0] for tau in TAU_SWEEP]
    tau_curves[f"r={r}"] = dict(r=r, tau=list(TAU_SWEEP), error=[m for m, _ in vals],
                                stderr=[s for _, s in vals], uniform_baseline=unif)
  print("(c) done", file=sys.stderr, flush=True)
  results["tau_sweep"] = dict(T=BASE_T, curves=tau_curves)
  results["wall_time_s"] = time.perf_counter() - start

  # --- table ----------------------------------------------------------------------------------
  print(f"CAM read-out error vs exact causal softmax attention: mean_t |cam - exact| / |exact|, "
        f"mean over {args.seeds} seeds (n={args.key_dim}, d={args.value_dim}, radius "
        f"|q|=|k|={args.radius:g}); 'uniform' = discounted mean of v, ignoring q and k.\n")
  print(f"(a) features r, T={BASE_T}")
  labels = list(r_curves)
  print("| r | " + " | ".join(labels) + " |")
  print("|---:|" + "---:|" * len(labels))
  for i, r in enumerate(R_SWEEP):
    print(f"| {r} | " + " | ".join(
        f"{r_curves[l]['error'][i]:.4f} +- {r_curves[l]['stderr'][i]:.4f}" for l in labels) + " |")
  print("| fitted slope of log err vs log r | " +
        " | ".join(f"{r_curves[l]['loglog_slope']:.3f}" for l in labels) + " |")
  print("| same, r >= 64 only | " +
        " | ".join(f"{r_curves[l]['loglog_slope_r_ge_64']:.3f}" for l in labels) + " |")
  print("| uniform baseline | " +
        " | ".join(f"{r_curves[l]['uniform_baseline']:.4f}" for l in labels) + " |")
  print(f"\n(b) history length T (error averaged over t <= T)")
  labels = list(t_curves)
  taus_b = (0.0, BASE_TAU)
  print("| T | " + " | ".join(labels) + " | " +
        " | ".join(f"uniform, tau={t:g}" for t in taus_b) + " |")
  print("|---:|" + "---:|" * (len(labels) + len(taus_b)))
  for i, length in enumerate(T_SWEEP):
    unif_vals = [t_curves[f"r={BASE_R}, tau={t:g}"]["uniform_baseline"][i] for t in taus_b]
    print(f"| {length} | " + " | ".join(f"{t_curves[l]['error'][i]:.4f}" for l in labels) + " | " +
          " | ".join(f"{u:.4f}" for u in unif_vals) + " |")
  print(f"\n(c) discount tau, T={BASE_T}")
  labels = list(tau_curves)
  print("| tau | " + " | ".join(labels) + " | uniform |")
  print("|---:|" + "---:|" * (len(labels) + 1))
  for i, tau in enumerate(TAU_SWEEP):
    print(f"| {tau:g} | " + " | ".join(f"{tau_curves[l]['error'][i]:.4f}" for l in labels) +
          f" | {unif[i]:.4f} |")
  print(f"\nwall time {results['wall_time_s']:.0f} s")

  # --- files ----------------------------------------------------------------------------------
  for path in (args.png, args.json):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(results, f, indent=2)
  plot(results, args)
  print(f"wrote {args.png} and {args.json}")


def plot(results, args):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, axes = plt.subplots(1, 3, figsize=(17, 7))
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

  ax = axes[0]
  curves = results["r_sweep"]["curves"]
  base_radius = results["config"]["radius"]
  baseline_done = set()
  for i, (label, c) in enumerate(curves.items()):
    main = c["radius"] == base_radius
    ax.errorbar(c["r"], c["error"], yerr=c["stderr"], marker="o", capsize=2, color=colors[i],
                lw=1.6 if main else 1.0, ms=5 if main else 3,
                label=f"CAM, {label} (slope {c['loglog_slope']:.2f})")
    # One dashed baseline per radius (tau = 0 and 0.01 give nearly the same one).
    if c["tau"] == BASE_TAU and c["radius"] not in baseline_done:
      baseline_done.add(c["radius"])
      ax.axhline(c["uniform_baseline"], ls="--", color=colors[i], alpha=0.7,
                 label=f"uniform baseline, radius {c['radius']:g}")
  ref_curve = next(c for c in curves.values()
                   if c["radius"] == base_radius and c["tau"] == BASE_TAU and c["orthogonal"])
  r = np.asarray(ref_curve["r"], float)
  ref = ref_curve["error"][list(R_SWEEP).index(64)] * np.sqrt(64 / r)
  ax.plot(r, ref, ":", color="black", lw=1.2, label=r"$\propto r^{-1/2}$")
  ax.set_xscale("log", base=2)
  ax.set_yscale("log")
  ax.set_xlabel("random features r")
  ax.set_ylabel("relative read-out error")
  ax.set_title(f"(a) error vs r   (T={results['r_sweep']['T']})")

  ax = axes[1]
  curves = results["T_sweep"]["curves"]
  r_values = sorted({c["r"] for c in curves.values()})
  tau_values = sorted({c["tau"] for c in curves.values()})
  styles = [("-", "o"), ("-.", "s")]
  for label, c in curves.items():
    ls, marker = styles[tau_values.index(c["tau"]) % len(styles)]
    ax.errorbar(c["T"], c["error"], yerr=c["stderr"], ls=ls, marker=marker, capsize=2,
                color=colors[r_values.index(c["r"])], label=f"CAM, {label}")
  seen = set()
  for c in curves.values():
    if c["tau"] not in seen:
      seen.add(c["tau"])
      ax.plot(c["T"], c["uniform_baseline"], "--" if c["tau"] == 0 else ":", color="gray",
              label=f"uniform baseline, tau={c['tau']:g}")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("history length T (error averaged over t <= T)")
  ax.set_title("(b) error vs history length")

  ax = axes[2]
  curves = results["tau_sweep"]["curves"]
  for i, (label, c) in enumerate(curves.items()):
    ax.errorbar(c["tau"], c["error"], yerr=c["stderr"], marker="o", capsize=2, color=colors[i],
                label=f"CAM, {label}")
  c = next(iter(curves.values()))
  ax.plot(c["tau"], c["uniform_baseline"], "--", color="gray", label="uniform baseline")
  ax.set_xscale("symlog", linthresh=1e-3)
  ax.set_yscale("log")
  ax.set_xlabel("discount tau (symlog; leftmost point is tau = 0)")
  ax.set_title(f"(c) error vs discount   (T={results['tau_sweep']['T']})")

  for ax in axes:
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
  cfg = results["config"]
  fig.suptitle(f"CAM vs exact discounted causal softmax attention: mean_t |cam-exact|/|exact|, "
               f"{cfg['seeds']} seeds, n={cfg['key_dim']}, d={cfg['value_dim']}, "
               f"|q|=|k|={cfg['radius']:g}", fontsize=11)
  fig.tight_layout(rect=(0, 0, 1, 0.96))
  fig.savefig(args.png, dpi=110)
  plt.close(fig)


if __name__ == "__main__":
  main()

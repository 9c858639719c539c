"""The performance suite in one command: one markdown table of Mnemosyne against its targets.

Everything is measured side by side in ONE process (the RSS check excepted, see 5.):

1. Update time (``step_overhead.run_size``: jit, donated state, interleaved rounds with rotating
   order, medians; "paired" ratio = median over rounds of the round-median ratio) on trees of
   1M, 4M and 16M float32 parameters (1024 x 1024 tensors) against optax Adam; against
   learned_optimization's AdafacMLPLOpt and RNNMLPLOpt at 1M only (they take seconds per update
   on this shared 2-core machine, so larger trees would take most of the run); Mnemosyne with ``compute_dtype="bfloat16"`` too.  Linearity: Mnemosyne's
   16M median over its 1M median, against 16.
   The same against Adam on the trees of the models people train (``--trees``,
   ``step_overhead.MODEL_TREES``: the tiny held-out Transformer LM and ViT, ViT-B/16, BERT-base,
   GPT-2 small; their tensor counts and state too), ``--tree_rounds`` rounds.
2. State: persistent floats per parameter excluding the parameters (Adam: 2), and bytes per
   parameter including them.
3. Peak memory of one update: the compiled update's argument + output + temp - alias bytes
   (``benchmark_common.memory_stats``), nothing allocated for it.
4. PES meta-training throughput: ``outer_trainers.meta_training.make_meta_learner`` (TruncatedPES
   with ReparamWeightsFamily, SingleMachineGradientLearner) on the same family and settings for
   Mnemosyne, AdafacMLPLOpt and RNNMLPLOpt; after ``--pes_warmup`` untimed outer steps (compiling),
   ``--pes_rounds`` interleaved rounds of ``--pes_steps`` outer steps each.  Inner steps per outer
   step: 2 (antithetic pair) x num_tasks x trunc_length.
5. Largest model whose full training step (forward, backward, update; state donated) fits
   ``--budget_gib`` GiB, with Mnemosyne and with Adam: an MLP of width w (4 layers) and a
   Transformer decoder of width d and depth d / 128 (``model_fit``), by bisection on the compiled
   step's memory (``model_fit.largest_fitting``).  Checked against one real step's resident memory
   in a subprocess (``model_fit.py rss``), and against the hand count of the arguments.

Run (from the repository root; 25-45 minutes on the shared 2-core CPU machine):

    PYTHONPATH=. .venv/bin/python benchmarks/run_all.py

writes ``benchmarks/results/run_all.{json,md}``.  ``--quick``: tiny sizes, budgets and PES settings
(a structural smoke test, its figures mean nothing); ``--out_prefix`` to write elsewhere.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=g-import-not-at-top,wrong-import-position
import benchmark_common
import model_fit
import step_overhead
import mnemosyne_lopt  # noqa: F401  (compat layer first)
from mnemosyne_lopt import lo_baselines
import jax
import numpy as np

GIB = 2 ** 30


# --- 1-3: update time, state, update memory ----------------------------------------------------
def update_benchmarks(args, log):
  rows = []
  for size_text in args.sizes.split(","):
    n = step_overhead.parse_size(size_text)
    names = ["adam", "mnemosyne"]
    if size_text in args.bf16_sizes.split(","):
      names.append("mnemosyne_bf16")
    if size_text in args.lo_sizes.split(","):
      names += ["adafac_mlp", "rnn_mlp"]
    ns = argparse.Namespace(tensor_shape=args.tensor_shape, optimizers=names, seed=0,
                            warmup=args.warmup, rounds=args.rounds,
                            target_ms_per_round=args.target_ms_per_round,
                            min_steps_per_round=1, max_steps_per_round=args.max_steps_per_round)
    t0 = time.perf_counter()
    step_overhead.run_size(n, ns, rows)
    log(f"[update {size_text}] {time.perf_counter() - t0:.0f} s")
  return rows


def tree_benchmarks(args, log):
  """Update time and state on the trees of ``--trees`` (``step_overhead.MODEL_TREES``), Adam and
  Mnemosyne only, ``--tree_rounds`` interleaved rounds of at most 3 timed updates (the large trees
  take about a second per Mnemosyne update on this CPU)."""
  rows = []
  for tree in [t for t in args.trees.split(",") if t]:
    ns = argparse.Namespace(tree=tree, optimizers=["adam", "mnemosyne"], seed=0,
                            warmup=args.warmup, rounds=args.tree_rounds,
                            target_ms_per_round=args.target_ms_per_round,
                            min_steps_per_round=1, max_steps_per_round=min(3, args.max_steps_per_round))
    t0 = time.perf_counter()
    shapes = step_overhead.MODEL_TREES[tree]()
    n = sum(math.prod(shape) for shape in shapes.values())
    for row in step_overhead.run_size(n, ns, []):
      rows.append(dict(row, tree=tree, num_tensors=len(shapes)))
    log(f"[trees {tree}] {time.perf_counter() - t0:.0f} s")
  return rows


# --- 4: PES meta-training throughput -----------------------------------------------------------
def pes_family(args):
  if args.pes_family == "digits":
    from mnemosyne_lopt.tasks import digits
    return digits.DigitsMLPFamily((32,), batch_size=args.pes_batch)
  from mnemosyne_lopt.tasks import image_mlp
  dataset, size = args.pes_family.rsplit(":", 1)
  return image_mlp.ImageMLPFamily(dataset, int(size), (32,), batch_size=args.pes_batch)


def pes_benchmarks(args, log):
  from learned_optimization.learned_optimizers import adafac_mlp_lopt
  from learned_optimization.outer_trainers import truncation_schedule
  from mnemosyne_lopt import MnemosyneLOpt
  from mnemosyne_lopt.outer_trainers import meta_training
  lopts = {"mnemosyne": MnemosyneLOpt(), "adafac_mlp": adafac_mlp_lopt.AdafacMLPLOpt(),
           "rnn_mlp": lo_baselines.RNNMLPLOptJitSafe()}
  inner_per_outer = 2 * args.pes_num_tasks * args.pes_trunc_length
  runners = {}
  for name, lopt in lopts.items():
    learner = meta_training.make_meta_learner(
        lopt, [pes_family(args)], estimator="pes", num_tasks=args.pes_num_tasks,
        trunc_length=args.pes_trunc_length, steps_per_jit=args.pes_steps_per_jit,
        schedule=truncation_schedule.ConstantTruncationSchedule(args.pes_inner_length))
    key = jax.random.PRNGKey(0)
    state = learner.init(key)
    t0 = time.perf_counter()
    losses = []
    for i in range(args.pes_warmup):
      state, loss, _ = learner.update(state, jax.random.fold_in(key, i))
      losses.append(float(loss))
    log(f"[pes] {name}: {args.pes_warmup} warm-up outer steps (compiling) in "
        f"{time.perf_counter() - t0:.0f} s, meta-losses {np.round(losses, 3).tolist()}")
    runners[name] = dict(learner=learner, state=state, times=[], round_medians=[], step=args.pes_warmup,
                         losses=losses)
  names = list(lopts)
  for rnd in range(args.pes_rounds):
    order = names[rnd % len(names):] + names[:rnd % len(names)]
    for name in (order[::-1] if rnd % 2 else order):
      r = runners[name]
      times = []
      for _ in range(args.pes_steps):
        t0 = time.perf_counter()
        r["state"], loss, _ = r["learner"].update(r["state"], jax.random.fold_in(jax.random.PRNGKey(0), r["step"]))
        loss = float(loss)
        times.append(time.perf_counter() - t0)
        r["losses"].append(loss)
        r["step"] += 1
      r["times"].extend(times)
      r["round_medians"].append(float(np.median(times)))
  out = {}
  for name in names:
    r = runners[name]
    med = float(np.median(r["times"]))
    out[name] = dict(outer_step_s_median=med, inner_steps_per_s=inner_per_outer / med,
                     outer_steps_timed=len(r["times"]), final_meta_loss=r["losses"][-1],
                     meta_losses_finite=bool(np.all(np.isfinite(r["losses"]))),
                     round_medians=r["round_medians"])
  for name in names:
    # Paired: per round, (other's outer-step time) / (Mnemosyne's) = Mnemosyne's speed-up.
    out[name]["paired_speedup_of_mnemosyne"] = float(np.median(
        np.asarray(runners[name]["round_medians"]) / np.asarray(runners["mnemosyne"]["round_medians"])))
  out["settings"] = dict(family=args.pes_family, hidden=[32], batch_size=args.pes_batch,
                         num_tasks=args.pes_num_tasks, trunc_length=args.pes_trunc_length,
                         steps_per_jit=args.pes_steps_per_jit, inner_length=args.pes_inner_length,
                         inner_steps_per_outer_step=inner_per_outer, reparam_level="global")
  return out


# --- 5: largest model within the budget --------------------------------------------------------
def fit_benchmarks(args, log):
  budget = int(args.budget_gib * GIB)
  out = {}
  for model, (lo, hi, stepw) in (("mlp", args.mlp_bracket), ("transformer", args.tx_bracket)):
    for opt in ("adam", "mnemosyne"):
      t0 = time.perf_counter()
      kw = args.tx_kw if model == "transformer" else {}
      best, fail, probes = model_fit.largest_fitting(model, opt, budget, lo, hi, stepw, log=log, **kw)
      out[f"{model}/{opt}"] = dict(fits=best, first_too_big=fail, probes=len(probes))
      log(f"[fit] {model} {opt}: width {best['width']} ({best['num_params'] / 1e6:.0f}M params, "
          f"{best['peak_bytes'] / GIB:.2f} GiB) fits, {fail['width']} does not "
          f"({time.perf_counter() - t0:.0f} s)")
  return out


def rss_check(args, log):
  """One real step of the RSS-check MLP per optimizer, each in its own process."""
  out = {}
  for opt in ("adam", "mnemosyne"):
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_fit.py"),
           "rss", "mlp", str(args.rss_width), opt]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                             [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              os.environ.get("PYTHONPATH", "")])))
    out[opt] = json.loads(res.stdout.strip().splitlines()[-1])
    r = out[opt]
    log(f"[rss] mlp {args.rss_width} {opt}: arguments {r['measured_argument_bytes'] / 1e6:.0f} MB "
        f"(compiled: {r['argument_bytes'] / 1e6:.0f}), step adds {r['measured_step_extra_bytes'] / 1e6:.0f} "
        f"MB (compiled: {r['predicted_step_extra_bytes'] / 1e6:.0f})")
  return out


# --- the table ---------------------------------------------------------------------------------
def _verdict(ok):
  return "PASS" if ok else "FAIL"


def _fmt_bytes(b):
  return f"{b / GIB:.2f} GiB" if b >= GIB / 4 else f"{b / 2 ** 20:.1f} MiB"


def build_table(res, args):
  """Markdown lines: quantity | Mnemosyne | compared with | ratio | target | result."""
  upd = {(r["optimizer"], r["num_params"]): r for r in res["update"]}
  sizes = sorted({r["num_params"] for r in res["update"]})
  lab = step_overhead.size_label
  lines = ["| quantity | Mnemosyne | compared with | ratio | target | result |",
           "|---|---:|---|---:|---|---|"]
  mid = sizes[len(sizes) // 2]
  for n in sizes:
    m, a = upd[("mnemosyne", n)], upd[("adam", n)]
    target = "<= 2x Adam" if n == mid else ""
    lines.append(f"| update time, {lab(n)} params | {m['ms_median']:.2f} ms | Adam {a['ms_median']:.2f} ms "
                 f"| {m['paired_ratio_to_adam']:.2f}x | {target} | "
                 f"{_verdict(m['paired_ratio_to_adam'] <= 2.0) if target else ''} |")
  for n in sizes:
    m = upd[("mnemosyne", n)]
    for other, label in (("adafac_mlp", "AdafacMLPLOpt"), ("rnn_mlp", "RNNMLPLOpt")):
      if (other, n) in upd:
        o = upd[(other, n)]
        lines.append(f"| update time vs {label}, {lab(n)} | {m['ms_median']:.2f} ms | {label} "
                     f"{o['ms_median']:.1f} ms | {m['paired_ratio_to_adam'] / o['paired_ratio_to_adam']:.3f}x "
                     "| | |")
  b, m = upd[("mnemosyne_bf16", mid)], upd[("mnemosyne", mid)]
  lines.append(f"| update time, compute_dtype=bfloat16, {lab(mid)} | {b['ms_median']:.2f} ms | float32 "
               f"{m['ms_median']:.2f} ms | {b['paired_ratio_to_adam'] / m['paired_ratio_to_adam']:.2f}x | | |")
  a = upd[("adam", mid)]
  lines.append(f"| persistent state, floats / param (excl. params), {lab(mid)} | {m['floats_per_param']:.3f} "
               f"| Adam {a['floats_per_param']:.3f} | {m['floats_per_param'] / a['floats_per_param']:.3f}x | <= 2.1 "
               f"| {_verdict(max(upd[('mnemosyne', n)]['floats_per_param'] for n in sizes) <= 2.1)} |")
  trees = {(r["optimizer"], r["tree"]): r for r in res.get("trees", [])}
  for tree in dict.fromkeys(r["tree"] for r in res.get("trees", [])):
    m, a = trees[("mnemosyne", tree)], trees[("adam", tree)]
    lines.append(f"| update time, {tree} tree ({m['num_params']:,} params, {m['num_tensors']} tensors) | "
                 f"{m['ms_median']:.2f} ms | Adam {a['ms_median']:.2f} ms | {m['paired_ratio_to_adam']:.2f}x "
                 f"| <= 2x Adam | {_verdict(m['paired_ratio_to_adam'] <= 2.0)} |")
    lines.append(f"| persistent state, floats / param (excl. params), {tree} tree | "
                 f"{m['floats_per_param']:.3f} | Adam {a['floats_per_param']:.3f} | "
                 f"{m['floats_per_param'] / a['floats_per_param']:.3f}x | <= 2.1 | "
                 f"{_verdict(m['floats_per_param'] <= 2.1)} |")
  lines.append(f"| persistent state, bytes / param (incl. params), {lab(mid)} | {m['bytes_per_param']:.2f} "
               f"| Adam {a['bytes_per_param']:.2f} | {m['bytes_per_param'] / a['bytes_per_param']:.3f}x | | |")
  for n in sizes:
    m, a = upd[("mnemosyne", n)], upd[("adam", n)]
    lines.append(f"| update peak memory (arg + out + temp - alias), {lab(n)} | {_fmt_bytes(m['update_peak_bytes'])} "
                 f"({m['update_peak_bytes'] / n:.2f} B/param) | Adam {_fmt_bytes(a['update_peak_bytes'])} "
                 f"({a['update_peak_bytes'] / n:.2f} B/param) | {m['update_peak_bytes'] / a['update_peak_bytes']:.3f}x | | |")
  lo, hi = sizes[0], sizes[-1]
  lin = upd[("mnemosyne", hi)]["ms_median"] / upd[("mnemosyne", lo)]["ms_median"] / (hi / lo)
  lin_adam = upd[("adam", hi)]["ms_median"] / upd[("adam", lo)]["ms_median"] / (hi / lo)
  lines.append(f"| linearity: time({lab(hi)}) / time({lab(lo)}) / {hi // lo} | {lin:.2f} | Adam {lin_adam:.2f} "
               f"| | 0.8 - 1.2 | {_verdict(0.8 <= lin <= 1.2)} |")
  pes = res.get("pes")
  for other, label, target, need in (("rnn_mlp", "RNNMLPLOpt", ">= 3x", 3.0),
                                     ("adafac_mlp", "AdafacMLPLOpt", ">= 1x", 1.0)):
    if pes is None:
      lines.append(f"| PES meta-training, inner steps / s | not run (--skip_pes) | {label} | | {target} | |")
      continue
    mn, o = pes["mnemosyne"], pes[other]
    sp = o["paired_speedup_of_mnemosyne"]
    lines.append(f"| PES meta-training, inner steps / s | {mn['inner_steps_per_s']:.0f} | {label} "
                 f"{o['inner_steps_per_s']:.0f} | {sp:.2f}x | {target} | {_verdict(sp >= need)} |")
  for model, label in (("mlp", "MLP (4 layers w x w)"), ("transformer", "Transformer (d, depth d/128)")):
    m, a = res["fit"][f"{model}/mnemosyne"]["fits"], res["fit"][f"{model}/adam"]["fits"]
    r = m["num_params"] / a["num_params"]
    lines.append(f"| largest {label} in {args.budget_gib:g} GiB | w = {m['width']}, {m['num_params'] / 1e6:.0f}M "
                 f"params ({m['peak_bytes'] / GIB:.2f} GiB) | Adam: w = {a['width']}, {a['num_params'] / 1e6:.0f}M "
                 f"({a['peak_bytes'] / GIB:.2f} GiB) | {r:.3f}x params | >= 0.8x | {_verdict(r >= 0.8)} |")
  for opt, r in res.get("rss", {}).items():
    lines.append(f"| memory check: one real step, MLP w = {r['width']}, {opt} | arguments "
                 f"{r['measured_argument_bytes'] / 1e6:.0f} MB, step adds {r['measured_step_extra_bytes'] / 1e6:.0f} MB "
                 f"(resident) | compiled: {r['argument_bytes'] / 1e6:.0f} MB, {r['predicted_step_extra_bytes'] / 1e6:.0f} MB "
                 f"| {(r['measured_argument_bytes'] + r['measured_step_extra_bytes']) / r['peak_bytes']:.2f}x "
                 "(resident / compiled peak) | | |")
  return lines


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="tiny everything: a structural smoke test")
  parser.add_argument("--out_prefix", default=None,
                      help="write OUT.json and OUT.md [benchmarks/results/run_all]")
  parser.add_argument("--budget_gib", type=float, default=24.0)
  parser.add_argument("--rounds", type=int, default=11)
  parser.add_argument("--trees", default="transformer_lm_tiny,vit_tiny,vit_b16,bert_base,gpt2_small",
                      help="model trees for the update (step_overhead.MODEL_TREES; '' for none)")
  parser.add_argument("--tree_rounds", type=int, default=5)
  parser.add_argument("--pes_family", default="fashion_mnist:8",
                      help="DATASET:SIZE of ImageMLPFamily, or 'digits' [fashion_mnist:8]")
  parser.add_argument("--pes_rounds", type=int, default=3)
  parser.add_argument("--pes_steps", type=int, default=2, help="timed outer steps per round")
  parser.add_argument("--pes_num_tasks", type=int, default=8)
  parser.add_argument("--pes_trunc_length", type=int, default=50)
  parser.add_argument("--skip_rss", action="store_true", help="skip the real-step memory check")
  parser.add_argument("--skip_pes", action="store_true",
                      help="skip the PES throughput (compiling three meta-training steps is most of "
                           "--quick's time)")
  parser.add_argument("--only", default=None,
                      help="run only these parts (update,trees,pes,fit,rss) into OUT.partial.json, no table")
  parser.add_argument("--resume", action="store_true",
                      help="reuse the parts an interrupted run saved in OUT.partial.json (the table "
                           "then says so: those parts were measured in another process)")
  args = parser.parse_args(argv)
  args.tensor_shape = (1024, 1024)
  args.sizes, args.lo_sizes, args.bf16_sizes = "1M,4M,16M", "1M", "1M,4M,16M"
  args.warmup, args.target_ms_per_round, args.max_steps_per_round = 2, 300.0, 25
  args.pes_batch, args.pes_steps_per_jit, args.pes_inner_length, args.pes_warmup = 128, 10, 1000, 2
  args.mlp_bracket, args.tx_bracket, args.rss_width = (1024, 32768, 256), (512, 8192, 128), 4096
  args.tx_kw = {}
  if args.quick:
    args.tensor_shape = (1 << 20,)    # one tensor per tree: fewer programs to compile
    args.sizes, args.lo_sizes, args.bf16_sizes = "4K,8K,16K", "4K", "8K"
    args.rounds, args.warmup, args.target_ms_per_round, args.max_steps_per_round = 2, 1, 5.0, 3
    args.budget_gib = 2 ** -9   # 2 MiB
    args.mlp_bracket, args.tx_bracket = (64, 192, 64), (64, 192, 64)
    args.tx_kw = dict(vocab=256, seq=32, batch=2)
    args.pes_family, args.pes_batch, args.pes_num_tasks, args.pes_trunc_length = "digits", 8, 1, 2
    args.pes_steps_per_jit, args.pes_inner_length, args.pes_warmup = 1, 10, 1
    args.pes_rounds, args.pes_steps = 1, 1
    args.skip_rss = True
    args.trees, args.tree_rounds = "transformer_lm_tiny", 2
  prefix = args.out_prefix or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "run_all")
  log = lambda msg: print(msg, file=sys.stderr, flush=True)

  start = time.perf_counter()
  os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
  partial = prefix + ".partial.json"
  res, reused = {}, []
  if args.resume and os.path.exists(partial):
    with open(partial) as f:
      res = json.load(f)
    reused = sorted(res)
  parts = [("update", update_benchmarks), ("trees", tree_benchmarks)]
  parts += [] if args.skip_pes else [("pes", pes_benchmarks)]
  parts.append(("fit", fit_benchmarks))
  if not args.skip_rss:
    parts.append(("rss", rss_check))
  if args.only:
    parts = [p for p in parts if p[0] in args.only.split(",")]
  for part, fn in parts:
    if part not in res:
      res[part] = fn(args, log)
      with open(partial, "w") as f:     # each finished part, so that --resume can skip it
        json.dump(res, f, default=float)
    log(f"[{time.perf_counter() - start:.0f} s] {part} done")
  wall = time.perf_counter() - start
  if args.only:
    log(f"--only {args.only}: parts saved in {partial}; rerun with --resume for the table")
    return res

  dev = jax.devices()[0]
  version = benchmark_common.code_version()
  command = f"PYTHONPATH=. {os.path.relpath(sys.executable)} benchmarks/run_all.py {' '.join(sys.argv[1:] if argv is None else argv)}".strip()
  pes = res["pes"]["settings"] if "pes" in res else None
  header = [
      "## Performance suite (benchmarks/run_all.py)", "",
      f"Code: mnemosyne_lopt sha256 {version.get('package_sha256')}, git HEAD {version.get('git_head', '?')}"
      f"{' + uncommitted changes' if version.get('package_modified_since_head') else ''}; JAX {jax.__version__} "
      f"on {dev.platform}, {os.cpu_count()} CPU cores, Python {platform.python_version()}.", "",
      f"Update: trees of {'x'.join(map(str, args.tensor_shape))} float32 tensors, jit with donated "
      f"state, medians over {args.rounds} interleaved rounds; ratios are paired (median over rounds of the "
      f"round-median ratio). " + (f"PES: {pes['family']} MLP[32] family (batch {pes['batch_size']}, reparam "
      f"'global'), {pes['num_tasks']} tasks x antithetic pair x trunc_length {pes['trunc_length']} = "
      f"{pes['inner_steps_per_outer_step']} inner steps per outer step, {args.pes_rounds} rounds x "
      f"{args.pes_steps} timed outer steps after {args.pes_warmup} warm-up. " if pes else "PES: not run. ")
      + "Fit: compiled training step "
      f"(forward, backward, update, state donated), argument + output + temp - alias bytes, bisection "
      "on width.", ""]
  lines = header + build_table(res, args) + ["", f"Command: `{command}`; wall time {wall:.0f} s."]
  if reused:
    lines.append(f"Parts reused from an earlier process (--resume): {', '.join(reused)}.")
  text = "\n".join(lines)
  print(text)
  with open(prefix + ".md", "w") as f:
    f.write(text + "\n")
  with open(prefix + ".json", "w") as f:
    json.dump(dict(code=version, jax_version=jax.__version__, platform=dev.platform,
                   cpu_count=os.cpu_count(), argv=sys.argv, quick=args.quick,
                   budget_gib=args.budget_gib, wall_time_s=wall, results=res, reused_parts=reused,
                   table=build_table(res, args), time=time.strftime("%Y-%m-%d %H:%M:%S")),
              f, indent=1, default=float)
  if os.path.exists(partial):
    os.remove(partial)
  return res


if __name__ == "__main__":
  main()

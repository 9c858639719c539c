"""Per-step time and persistent memory of Mnemosyne against Adam and two learned optimizers.

For a parameter tree of N float32 tensors (default: four 1024 x 1024 tensors, 4M parameters) this
script measures, in ONE process, the jit-compiled update step of

  * ``adam``           optax ``adam(1e-3)`` followed by ``optax.apply_updates``;
  * ``mnemosyne``      ``MnemosyneLOpt()`` (default ``meta_token`` mode);
  * ``mnemosyne_v1``   ``MnemosyneLOpt(rule="v1")`` (the v1 update);
  * ``mnemosyne_pc``   ``MnemosyneLOpt(rule="v1", mode="per_coordinate")``;
  * ``adafac_mlp``     learned_optimization's ``AdafacMLPLOpt()``;
  * ``rnn_mlp``        learned_optimization's ``RNNMLPLOpt()``;
  * ``mnemosyne_bf16`` ``MnemosyneLOpt(compute_dtype="bfloat16")`` (only when asked for);
  * ``mnemosyne_capped`` ``MnemosyneLOpt(max_coordinate_ratio=2.0)`` (the per-coordinate bound
    alone; only when asked for);
  * ``mnemosyne_plain`` ``MnemosyneLOpt`` as the pretrained "plain" is configured (weight
    decay 0.1 and ``max_coordinate_ratio=2``; only when asked for);
  * ``mnemosyne_shipped`` ``MnemosyneLOpt`` as the pretrained "default" is configured ("plain"'s
    settings with ``orthogonalize=True``: Newton-Schulz on every matrix; only when asked for);
  * ``muon``           ``optax.contrib.muon(1e-3, consistent_rms=0.2)`` as ``mnemosyne-eval`` runs
    it (the same 5-step quintic Newton-Schulz iteration on every 2-D tensor, Adam on the others),
    then ``optax.apply_updates`` (only when asked for);
  * ``mnemosyne_optax`` / ``mnemosyne_mechanic`` ``mnemosyne_lopt.mnemosyne()`` and
    ``mnemosyne_lopt.mnemosyne_mechanic()`` (the pretrained default through optax, then
    ``optax.apply_updates``), ``mnemosyne_optax_plain`` / ``mnemosyne_mechanic_plain`` the same
    with ``name="plain"``: what Mechanic adds to the update (only when asked for).

Each row also records the compiled update's buffer sizes (``benchmark_common.memory_stats``).

Timing.  Each update function is ``jax.jit``-ed with the optimizer state donated
(``donate_argnums``), so XLA may write the new parameters and accumulators in place, as in a real
training loop; the gradient tree is fixed and not donated.  Each optimizer gets its own copy of the
initial parameters and of every leaf of its state, so no donated buffer is shared with another
optimizer (or twice within one state, which ``RNNMLPLOpt``'s state would otherwise do).  After
compilation and a warm-up, the script runs ``--rounds`` rounds; in each round every optimizer runs
about ``--target_ms_per_round`` worth of updates (between ``--min_steps_per_round`` and
``--max_steps_per_round``, estimated from the warm-up), each timed separately up to
``jax.block_until_ready``, and the order of the optimizers is rotated (and reversed every other
round) from round to round, so that slow phases of a noisy machine hit all of them alike.  Reported: the median time per update (and the 10th/90th percentiles), the ratio of
medians to Adam, and the median of the per-round ratios (each optimizer's round median divided by
Adam's median in the same round), which is the most noise-robust of the two.

``RNNMLPLOpt`` note: its jitted update turns every parameter into NaN on the first step on
current JAX/XLA (eagerly it does not), because XLA folds ``1 - decay**0 + 1e-8`` to 0 in the
validation-loss normaliser; ``build`` starts that normaliser's counter at 1, which gives the eager
value and leaves the cost of a step unchanged.

Memory.  ``bytes/param`` is the persistent state held across steps INCLUDING the parameters
themselves: the sum of ``nbytes`` over all leaves of the optimizer state (for optax: the
parameters plus the optax state) divided by the number of parameters, so optax Adam is 12 bytes
per parameter (p, m, v).  ``floats/param`` counts the elements of all state leaves except the
parameters, per parameter (Adam: 2).

Run (from the repository root; about 2 minutes on 2 CPU cores):

    PYTHONPATH=. .venv/bin/python benchmarks/step_overhead.py \
        --json benchmarks/results/step_overhead.json | tee benchmarks/results/step_overhead.md

Other sizes: ``--params 1M,4M,16M`` (each size is built from 1024 x 1024 tensors, see
``--tensor_shape``); a subset of optimizers: ``--optimizers adam,mnemosyne``.
"""

import argparse
import json
import os
import platform
import sys
import time

from benchmark_common import code_version  # pylint: disable=g-import-not-at-top
from benchmark_common import memory_stats
import mnemosyne_lopt  # noqa: F401  (must precede any learned_optimization import: JAX shim)
from mnemosyne_lopt import MnemosyneLOpt
from mnemosyne_lopt import evaluation
from mnemosyne_lopt import lo_baselines
from mnemosyne_lopt import pretrained

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import jax.numpy as jnp
import numpy as np
import optax
from learned_optimization.learned_optimizers import adafac_mlp_lopt

DEFAULT_OPTIMIZERS = ("adam", "mnemosyne", "mnemosyne_pc", "adafac_mlp", "rnn_mlp")
ALL_OPTIMIZERS = DEFAULT_OPTIMIZERS + ("mnemosyne_bf16", "mnemosyne_v1", "mnemosyne_capped",
                                       "mnemosyne_plain", "mnemosyne_shipped", "muon",
                                       "mnemosyne_optax", "mnemosyne_mechanic",
                                       "mnemosyne_optax_plain", "mnemosyne_mechanic_plain")
LABELS = {
    "adam": "optax adam(1e-3) + apply_updates",
    "mnemosyne": "Mnemosyne (v2, meta_token, default)",
    "mnemosyne_v1": "Mnemosyne v1 (meta_token)",
    "mnemosyne_capped": "Mnemosyne (v2, max_coordinate_ratio=2)",
    "mnemosyne_plain": "Mnemosyne (v2, as the pretrained 'plain' is configured)",
    "mnemosyne_shipped": "Mnemosyne (v2, as the pretrained default is configured)",
    "mnemosyne_bf16": "Mnemosyne (meta_token, compute_dtype=bfloat16)",
    "mnemosyne_pc": "Mnemosyne (per_coordinate)",
    "adafac_mlp": "AdafacMLPLOpt",
    "rnn_mlp": "RNNMLPLOpt",
    "muon": "optax.contrib.muon(1e-3, consistent_rms=0.2) + apply_updates",
    "mnemosyne_optax": "mnemosyne_lopt.mnemosyne() + apply_updates",
    "mnemosyne_mechanic": "mnemosyne_lopt.mnemosyne_mechanic() + apply_updates",
    "mnemosyne_optax_plain": "mnemosyne_lopt.mnemosyne(name='plain') + apply_updates",
    "mnemosyne_mechanic_plain": "mnemosyne_lopt.mnemosyne_mechanic(name='plain') + apply_updates",
}
NUM_STEPS = 10_000   # planned training length handed to the learned optimizers' init


def parse_size(text: str) -> int:
  """'4M' -> 4194304 (M = 2^20), '512K' -> 524288, '1000000' -> 1000000."""
  text = text.strip().upper()
  mult = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}.get(text[-1:], 1)
  return int(float(text[:-1] if mult > 1 else text) * mult)


def size_label(n: int) -> str:
  if n % 2 ** 20 == 0:
    return f"{n // 2 ** 20}M"
  if n % 2 ** 10 == 0:
    return f"{n // 2 ** 10}K"
  return str(n)


def make_tree(key, num_params: int, tensor_shape):
  """A dict of float32 tensors of ``tensor_shape`` (the last one cut short) with num_params entries."""
  per = int(np.prod(tensor_shape))
  tree, i, left = {}, 0, num_params
  while left > 0:
    n = min(per, left)
    shape = tuple(tensor_shape) if n == per else (n,)
    tree[f"w{i:03d}"] = 0.02 * jax.random.normal(jax.random.fold_in(key, i), shape, jnp.float32)
    left -= n
    i += 1
  return tree


def gpt2_small_shapes(vocab=50257, context=1024, width=768, layers=12):
  """Parameter shapes of GPT-2 small (Radford et al. 2019): token and position embeddings, per
  block two layer norms (scale, bias), the fused QKV projection, the attention output projection
  and the 4x MLP (kernels and biases), a final layer norm; the output layer is tied to the token
  embedding.  124,439,808 parameters in 148 tensors."""
  shapes = {"wte": (vocab, width), "wpe": (context, width)}
  for i in range(layers):
    for name, shape in (("ln1_scale", (width,)), ("ln1_bias", (width,)),
                        ("qkv_w", (width, 3 * width)), ("qkv_b", (3 * width,)),
                        ("proj_w", (width, width)), ("proj_b", (width,)),
                        ("ln2_scale", (width,)), ("ln2_bias", (width,)),
                        ("fc_w", (width, 4 * width)), ("fc_b", (4 * width,)),
                        ("out_w", (4 * width, width)), ("out_b", (width,))):
      shapes[f"h{i:02d}_{name}"] = shape
  shapes["lnf_scale"], shapes["lnf_bias"] = (width,), (width,)
  return shapes


def registry_shapes(task_name: str):
  """Parameter shapes of the project's registered task ``task_name`` (``tasks.registry``, built
  with ``jax.eval_shape``: nothing allocated), flattened to {path: shape}."""
  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt.tasks import registry
  from mnemosyne_lopt.tasks import text_tasks  # noqa: F401  (registers the text tasks)
  trainable, _ = registry.param_shapes(task_name)
  flat, _ = jax.tree_util.tree_flatten_with_path(trainable)
  return {jax.tree_util.keystr(path): tuple(x.shape) for path, x in flat}


# The 784-128-10 MLP whose start-up benchmarks/startup.py and compile_breakdown.py measure beside
# the model trees.
MLP_SHAPES = {"w1": (784, 128), "b1": (128,), "w2": (128, 10), "b2": (10,)}

# Trees of the models people train, from the project's own model definitions where they exist:
# ViT-B/16 (224 x 224, 1,000 classes: 86,567,656 in 200 tensors), BERT-base with its MLM head
# (109,514,298 in 202), GPT-2 small (124,439,808 in 148), and two held-out tasks of
# ``mnemosyne-eval``: the tiny Transformer LM (137,216 in 38) and the tiny ViT (19,493 in 40).
MODEL_TREES = {
    "gpt2_small": gpt2_small_shapes,
    "vit_b16": lambda: registry_shapes("vit_b16"),
    "bert_base": lambda: registry_shapes("bert_base"),
    "transformer_lm_tiny": lambda: registry_shapes("transformer_lm_kjv_tiny"),
    "vit_tiny": lambda: registry_shapes("vit_tiny_finetune"),
}


def model_tree(key, name: str):
  """A dict of float32 tensors N(0, 0.02^2) with the shapes of ``MODEL_TREES[name]``."""
  return {k: 0.02 * jax.random.normal(jax.random.fold_in(key, i), shape, jnp.float32)
          for i, (k, shape) in enumerate(MODEL_TREES[name]().items())}


def fresh_copy(tree):
  """A copy of every leaf in its own buffer (safe to donate, even if leaves were aliased)."""
  return jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), tree)


def tree_nbytes(tree) -> int:
  return sum(int(np.asarray(x).nbytes) if not hasattr(x, "nbytes") else int(x.nbytes)
             for x in jax.tree_util.tree_leaves(tree))


def tree_size(tree) -> int:
  return sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(tree))


def build(name: str, params, key):
  """Returns (state, step, theta, params_of): step(theta, state, grads, loss) -> state (state donated)."""
  if name in ("adam", "muon") or name.startswith(("mnemosyne_optax", "mnemosyne_mechanic")):
    which = "plain" if name.endswith("_plain") else "default"
    tx = (optax.adam(1e-3) if name == "adam" else
          evaluation.optax_transform("muon", 1e-3) if name == "muon" else
          mnemosyne_lopt.mnemosyne(num_steps=NUM_STEPS, name=which)
          if name.startswith("mnemosyne_optax") else
          mnemosyne_lopt.mnemosyne_mechanic(num_steps=NUM_STEPS, name=which))

    def optax_step(theta, state, grads, loss):
      del theta, loss
      p, s = state
      updates, s = tx.update(grads, s, p)
      return optax.apply_updates(p, updates), s

    state = (params, tx.init(params))
    return state, jax.jit(optax_step, donate_argnums=1), None, lambda st: st[0]

  if name == "mnemosyne":
    lopt = MnemosyneLOpt()
  elif name == "mnemosyne_bf16":
    lopt = MnemosyneLOpt(compute_dtype="bfloat16")
  elif name == "mnemosyne_v1":
    lopt = MnemosyneLOpt(rule="v1")
  elif name == "mnemosyne_capped":
    lopt = MnemosyneLOpt(max_coordinate_ratio=2.0)
  elif name == "mnemosyne_plain":
    lopt = pretrained.load_pretrained("plain")[0]
  elif name == "mnemosyne_shipped":
    lopt = pretrained.load_pretrained("default")[0]
  elif name == "mnemosyne_pc":
    lopt = MnemosyneLOpt(rule="v1", mode="per_coordinate")
  elif name == "adafac_mlp":
    lopt = adafac_mlp_lopt.AdafacMLPLOpt()
  elif name == "rnn_mlp":
    # RNNMLPLOpt with its validation-loss counter starting at 1: its jitted first update is NaN
    # otherwise (lo_baselines explains why); same work per step, same state size.
    lopt = lo_baselines.RNNMLPLOptJitSafe()
  else:
    raise ValueError(f"unknown optimizer {name!r}; choose from {ALL_OPTIMIZERS}")
  theta = lopt.init(key)
  state = lopt.opt_fn(theta).init(params, num_steps=NUM_STEPS)

  def lopt_step(theta, state, grads, loss):
    return lopt.opt_fn(theta).update(state, grads, loss=loss)

  return state, jax.jit(lopt_step, donate_argnums=1), theta, lambda st: st.params


def run_size(num_params, args, out):
  key = jax.random.PRNGKey(args.seed)
  if getattr(args, "tree", None):
    master = model_tree(jax.random.fold_in(key, 1), args.tree)
  else:
    master = make_tree(jax.random.fold_in(key, 1), num_params, args.tensor_shape)
  n = tree_size(master)
  grads = jax.tree_util.tree_map(
      lambda p: 1e-3 * jax.random.normal(jax.random.fold_in(key, p.size), p.shape, p.dtype), master)
  grads = jax.block_until_ready(grads)
  loss = jnp.asarray(1.0, jnp.float32)
  params_bytes = tree_nbytes(master)

  runners = {}
  for name in args.optimizers:
    state, step, theta, params_of = build(name, fresh_copy(master), jax.random.fold_in(key, 2))
    state = jax.block_until_ready(fresh_copy(state))
    total_bytes, total_elems = tree_nbytes(state), tree_size(state)
    t0 = time.perf_counter()
    compiled = step.lower(theta, state, grads, loss).compile()
    compile_s = time.perf_counter() - t0
    memory = memory_stats(compiled)
    warm_times = []
    for _ in range(max(args.warmup, 1)):
      t0 = time.perf_counter()
      state = jax.block_until_ready(compiled(theta, state, grads, loss))
      warm_times.append(time.perf_counter() - t0)
    est_ms = 1e3 * min(warm_times)
    steps = int(np.clip(np.ceil(args.target_ms_per_round / max(est_ms, 1e-3)),
                        args.min_steps_per_round, args.max_steps_per_round))
    p_new = params_of(state)
    if not all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(p_new)):
      raise RuntimeError(f"{name}: non-finite parameters after warm-up")
    runners[name] = dict(state=state, step=compiled, theta=theta, times=[], round_medians=[],
                         steps_per_round=steps,
                         bytes_per_param=total_bytes / n,
                         floats_per_param=(total_elems - n) / n,
                         state_bytes=total_bytes, compile_s=compile_s, memory=memory)
    print(f"[{size_label(num_params)}] {name}: compiled in {compile_s:.1f}s, ~{est_ms:.1f} ms/update, "
          f"{steps} timed updates per round, {total_bytes / n:.2f} bytes/param",
          file=sys.stderr, flush=True)
  del master

  names = list(args.optimizers)
  for rnd in range(args.rounds):
    shift = rnd % len(names)
    order = names[shift:] + names[:shift]
    if rnd % 2:
      order = order[::-1]
    for name in order:
      r = runners[name]
      state, step, theta = r["state"], r["step"], r["theta"]
      times = []
      for _ in range(r["steps_per_round"]):
        t0 = time.perf_counter()
        state = jax.block_until_ready(step(theta, state, grads, loss))
        times.append(time.perf_counter() - t0)
      r["state"] = state
      r["times"].extend(times)
      r["round_medians"].append(float(np.median(times)))

  adam = runners.get("adam")
  rows = []
  for name in names:
    r = runners[name]
    t = np.asarray(r["times"]) * 1e3
    med = float(np.median(t))
    row = dict(optimizer=name, label=LABELS[name], num_params=n, ms_median=med,
               ms_p10=float(np.percentile(t, 10)), ms_p90=float(np.percentile(t, 90)),
               num_timed_steps=int(t.size), steps_per_round=r["steps_per_round"],
               compile_s=r["compile_s"],
               bytes_per_param=r["bytes_per_param"], floats_per_param=r["floats_per_param"],
               state_bytes=r["state_bytes"], params_bytes=params_bytes,
               update_peak_bytes=r["memory"]["peak_bytes"], update_memory=r["memory"])
    if adam is not None:
      row["ratio_to_adam"] = med / (float(np.median(adam["times"])) * 1e3)
      row["paired_ratio_to_adam"] = float(np.median(
          np.asarray(r["round_medians"]) / np.asarray(adam["round_medians"])))
    rows.append(row)
    r["state"] = None
  out.extend(rows)
  return rows


def markdown(rows, num_params, args):
  has_adam = any(r["optimizer"] == "adam" for r in rows)
  if getattr(args, "tree", None):
    lines = [f"### {args.tree} tree ({rows[0]['num_params']:,} parameters in "
             f"{len(MODEL_TREES[args.tree]())} float32 tensors)", ""]
  else:
    lines = [f"### {size_label(num_params)} parameters ({rows[0]['num_params']:,}: "
             f"tensors of {'x'.join(map(str, args.tensor_shape))} float32)", ""]
  head = "| optimizer | ms / update (median) | p10 - p90 ms |"
  sep = "|---|---:|---:|"
  if has_adam:
    head += " x Adam (ratio of medians) | x Adam (paired, per round) |"
    sep += "---:|---:|"
  head += " state bytes / param (incl. params) | state floats / param (excl. params) |"
  sep += "---:|---:|"
  lines += [head, sep]
  for r in rows:
    line = (f"| {r['label']} | {r['ms_median']:.2f} | {r['ms_p10']:.2f} - {r['ms_p90']:.2f} |")
    if has_adam:
      line += f" {r['ratio_to_adam']:.2f} | {r['paired_ratio_to_adam']:.2f} |"
    line += f" {r['bytes_per_param']:.2f} | {r['floats_per_param']:.3f} |"
    lines.append(line)
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--params", "--sizes", dest="params", default="4M",
                      help="comma-separated tree sizes, e.g. 1M,4M,16M (M = 2^20) [4M]")
  parser.add_argument("--tensor_shape", default="1024,1024",
                      help="shape of the tensors the tree is built from [1024,1024]")
  parser.add_argument("--tree", default=None, choices=sorted(MODEL_TREES),
                      help="a model's parameter shapes instead of --params/--tensor_shape")
  parser.add_argument("--optimizers", default=",".join(DEFAULT_OPTIMIZERS),
                      help=f"comma-separated subset of {','.join(ALL_OPTIMIZERS)}")
  parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds [15]")
  parser.add_argument("--target_ms_per_round", type=float, default=300.0,
                      help="each optimizer runs about this long per round (estimated from the "
                           "warm-up), within the two bounds below [300]")
  parser.add_argument("--min_steps_per_round", type=int, default=1)
  parser.add_argument("--max_steps_per_round", type=int, default=25)
  parser.add_argument("--warmup", type=int, default=2, help="untimed updates after compiling [2]")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--json", default=None, help="write the results to this JSON file")
  args = parser.parse_args(argv)
  args.tensor_shape = tuple(int(s) for s in args.tensor_shape.split(","))
  args.optimizers = [s.strip() for s in args.optimizers.split(",") if s.strip()]
  for name in args.optimizers:
    if name not in ALL_OPTIMIZERS:
      parser.error(f"unknown optimizer {name!r}; choose from {ALL_OPTIMIZERS}")
  sizes = [parse_size(s) for s in args.params.split(",") if s.strip()]
  if args.tree:
    sizes = [sum(int(np.prod(x)) for x in MODEL_TREES[args.tree]().values())]

  dev = jax.devices()[0]
  version = code_version()
  print("## Update-step overhead\n")
  print(f"Code: mnemosyne_lopt sha256 {version.get('package_sha256')}, git HEAD "
        f"{version.get('git_head', '?')}"
        f"{' + uncommitted changes' if version.get('package_modified_since_head') else ''}.\n")
  print(f"JAX {jax.__version__} on {dev.platform} ({dev.device_kind}), {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}; jit with donated state; median over "
        f"{args.rounds} interleaved rounds of {args.min_steps_per_round}-{args.max_steps_per_round} "
        f"updates (about {args.target_ms_per_round:.0f} ms) per optimizer, after compiling and "
        f"{args.warmup} warm-up updates; 'paired' = median over rounds of (round median / Adam's "
        "round median).\n")
  start = time.perf_counter()
  results = []
  for num_params in sizes:
    rows = run_size(num_params, args, results)
    print(markdown(rows, num_params, args))
    print(flush=True)
  total_s = time.perf_counter() - start
  print(f"Command: `PYTHONPATH=. {' '.join([os.path.relpath(sys.executable)] + sys.argv)}`; "
        f"wall time {total_s:.0f} s.")
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
      json.dump(dict(code=version, jax_version=jax.__version__, optax_version=optax.__version__,
                     platform=dev.platform, device_kind=dev.device_kind,
                     cpu_count=os.cpu_count(), python=platform.python_version(),
                     argv=sys.argv, rounds=args.rounds,
                     target_ms_per_round=args.target_ms_per_round,
                     warmup=args.warmup, tensor_shape=list(args.tensor_shape),
                     num_steps_for_init=NUM_STEPS, wall_time_s=total_s,
                     time=time.strftime("%Y-%m-%d %H:%M:%S"), results=results), f, indent=2)


if __name__ == "__main__":
  main()

"""Where one Mnemosyne v2 update spends its time: its three stages timed alone, next to optax Adam.

On a parameter tree (``--tree``, one of ``step_overhead.MODEL_TREES``, or ``--params`` N: N
tensors of 1024 x 1024), with the shipped pretrained Mnemosyne "plain" (v2 without orthogonalised
steps) after a few updates, this script times, each jitted on its own:

  * ``adam``: optax ``adam(1e-3)`` + ``apply_updates``, parameters and state donated;
  * ``update``: the whole Mnemosyne update, state donated (what ``step_overhead.py`` times);
  * ``statistics``: the per-chunk sums over g, m, v of every tensor and the finiteness check
    (``MnemosyneLOpt._tree_sums_v2``, ``_all_finite``);
  * ``read_floor``: per chunk, the lane sums of g, of m and of v over the same layouts: the
    statistics pass's reads of g, m, v without its arithmetic (a floor for that pass on this
    machine; not part of the update; one sum of g + m + v would be 4-7x slower on 768 x 2304
    tensors, whose single-output lane sum XLA:CPU compiles differently);
  * ``network``: HPE, the CAM step and the head on all chunks' tokens, and the per-chunk
    coefficients (``_chunk_network_v2``);
  * ``apply``: the per-coordinate pass (new m, v, and p = p - lr Delta; ``_apply_v2``), p, m, v
    donated.

The stages are compiled apart, so their sum is not exactly the update's time (inside one program
XLA schedules and fuses across them), but it says what dominates.  Rounds are interleaved (every
function ``--reps`` times per round, ``--rounds`` rounds), medians reported.  The statistics and
per-coordinate passes each read the tree's state once; the network's cost grows with the number
of chunks and of tensors, not of parameters.

    PYTHONPATH=. .venv/bin/python benchmarks/update_breakdown.py --tree gpt2_small
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=g-import-not-at-top,wrong-import-position
import step_overhead
import mnemosyne_lopt  # noqa: F401  (must precede any learned_optimization import: JAX shim)
from mnemosyne_lopt import hpe
from mnemosyne_lopt import optimizer as optimizer_lib
from mnemosyne_lopt import pretrained
import jax
import jax.numpy as jnp
import numpy as np
import optax


def build_stages(lopt, theta, params, grads):
  """{stage: zero-argument function running it once} and a description of the tree."""
  # pylint: disable=protected-access
  opt = lopt.opt_fn(theta)
  state = opt.init(params, num_steps=10_000)
  warm = jax.jit(opt.update)
  for _ in range(3):
    state = warm(state, grads)
  treedef = jax.tree_util.tree_structure(params)
  flat = treedef.flatten_up_to
  gs, ms, vs = flat(grads), flat(state.momentum), flat(state.second_moment)
  layouts = [hpe.ChunkLayout(jnp.shape(g), lopt.chunk_length) for g in gs]
  it, num_steps, memory = state.iteration, state.num_steps, state.memory

  def statistics(gs, ms, vs):
    sums = lopt._tree_sums_v2(layouts, gs, ms, vs, it)
    return sums, optimizer_lib._all_finite([sums])
  statistics = jax.jit(statistics)

  def read_floor(gs, ms, vs):             # the same layouts' lane sums of g, m and v
    return [lay.map_sums(lambda g, m, v: (g, m, v), (g, m, v), stacked=True)
            for lay, g, m, v in zip(layouts, gs, ms, vs)]
  read_floor = jax.jit(read_floor)
  sums, finite = statistics(gs, ms, vs)
  network = jax.jit(lambda sums, memory, finite: lopt._chunk_network_v2(
      theta, layouts, sums, memory, it, num_steps, finite))
  coeffs, _ = network(sums, memory, finite)
  lr = lopt.learning_rate_at(it)

  def apply(ps, ms, vs, gs, coeffs):
    outs = lopt._apply_all_v2(layouts, gs, ms, vs, coeffs, it, finite)
    new_p = [p - lr * o[0] for p, o in zip(ps, outs)]
    return new_p, [o[1] for o in outs], [o[2] for o in outs]
  apply = jax.jit(apply, donate_argnums=(0, 1, 2))
  update = jax.jit(opt.update, donate_argnums=0)
  adam = optax.adam(1e-3)

  def adam_step(p, s, g):
    u, s = adam.update(g, s, p)
    return optax.apply_updates(p, u), s
  adam_step = jax.jit(adam_step, donate_argnums=(0, 1))
  copy = lambda t: jax.tree_util.tree_map(jnp.copy, t)
  box = {"adam": (copy(params), adam.init(params)), "update": (copy(state),),
         "apply": (copy(flat(state.params)), copy(ms), copy(vs))}

  def run(name, fn):
    def go():
      box[name] = fn(*box[name])
      return box[name]
    return go

  stages = {
      "adam": run("adam", lambda p, s: adam_step(p, s, grads)),
      "update": run("update", lambda s: (update(s, grads),)),
      "statistics": lambda: statistics(gs, ms, vs),
      "read_floor": lambda: read_floor(gs, ms, vs),
      "network": lambda: network(sums, memory, finite),
      "apply": run("apply", lambda p, m, v: apply(p, m, v, gs, coeffs)),
  }
  info = dict(num_params=sum(int(np.size(g)) for g in gs), num_tensors=len(gs),
              num_chunks=sum(lay.num_chunks for lay in layouts))
  return stages, info


LABELS = {"adam": "optax adam + apply_updates", "update": "Mnemosyne v2 update",
          "statistics": "  statistics pass (sums over g, m, v; finiteness)",
          "read_floor": "  (floor of the statistics pass: lane sums of g, m, v)",
          "network": "  per-chunk network (HPE, CAM, head, coefficients)",
          "apply": "  per-coordinate pass (m, v, p)"}


def measure(stages, rounds, reps):
  """Median ms per call of each stage over interleaved rounds (order rotated per round)."""
  times = {k: [] for k in stages}
  for fn in stages.values():
    jax.block_until_ready(fn())
  names = list(stages)
  for r in range(rounds):
    order = names[r % len(names):] + names[:r % len(names)]
    for name in order:
      for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(stages[name]())
        times[name].append(time.perf_counter() - t)
  return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tree", default=None, choices=sorted(step_overhead.MODEL_TREES))
  parser.add_argument("--params", type=int, default=4,
                      help="without --tree: this many 1024 x 1024 tensors [4]")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--reps", type=int, default=5)
  parser.add_argument("--json", default=None, help="also write the figures here")
  args = parser.parse_args(argv)
  key = jax.random.PRNGKey(0)
  if args.tree:
    params = step_overhead.model_tree(jax.random.fold_in(key, 1), args.tree)
    label = args.tree
  else:
    params = step_overhead.make_tree(jax.random.fold_in(key, 1), args.params * 2 ** 20,
                                     (1024, 1024))
    label = f"{args.params}M (1024 x 1024 tensors)"
  grads = jax.tree_util.tree_map(
      lambda p: 1e-3 * jax.random.normal(jax.random.fold_in(key, p.size), p.shape), params)
  lopt, theta = pretrained.load_pretrained("plain")
  stages, info = build_stages(lopt, theta, params, grads)
  ms = measure(stages, args.rounds, args.reps)
  print(f"{label}: {info['num_params']:,} parameters in {info['num_tensors']} tensors, "
        f"{info['num_chunks']:,} chunks; {jax.device_count()} device(s), "
        f"{len(os.sched_getaffinity(0))} core(s)\n")
  print("| stage | ms (median) | x Adam | share of the stages' sum |")
  print("|---|---:|---:|---:|")
  total = sum(ms[k] for k in ("statistics", "network", "apply"))
  for name in stages:
    share = f"{100 * ms[name] / total:.0f} %" if name in ("statistics", "network", "apply") else ""
    print(f"| {LABELS[name]} | {ms[name]:.2f} | {ms[name] / ms['adam']:.2f} | {share} |")
  bound = ms["read_floor"] + ms["network"] + ms["adam"]
  print(f"\nThe update if its statistics pass cost only its reads and its per-coordinate pass only "
        f"Adam's whole step: {bound:.2f} ms, {bound / ms['adam']:.2f}x Adam.")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(tree=label, **info, ms=ms, two_pass_bound_ms=bound,
                     code=step_overhead.code_version()), f, indent=1)


if __name__ == "__main__":
  main()

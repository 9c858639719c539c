"""Where the first step's compile time goes: the v2 update and its three stages, lowered and
compiled apart, with the number of kernels XLA emits for each.

On a tree of ``step_overhead.MODEL_TREES`` (or ``mlp``: 784-128-10), for the shipped pretrained
Mnemosyne "plain", this script jits and times ``lower`` and ``compile`` of

  * ``update``: the whole ``opt_fn(theta).update`` (what the first training step compiles);
  * ``statistics``: the per-chunk sums over g, m, v (``MnemosyneLOpt._tree_sums_v2``);
  * ``network``: HPE, the CAM step, the head and the coefficients (``_chunk_network_v2``);
  * ``apply``: the per-coordinate pass of every tensor (``_apply_v2``);

and, beside them, optax ``adamw(1e-3)``'s update.  ``kernels`` counts the fusions of the compiled
program (``fusion(`` in ``compiled.as_text()``): XLA:CPU compiles each into machine code of its
own, so compile time grows with their number and with what each holds (transcendental functions
expand into long polynomial code).  Each stage is compiled in the same process, one after another.

    PYTHONPATH=. .venv/bin/python benchmarks/compile_breakdown.py --tree transformer_lm_tiny
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=g-import-not-at-top,wrong-import-position
import step_overhead
import mnemosyne_lopt  # noqa: F401  (must precede any learned_optimization import)
from mnemosyne_lopt import hpe
from mnemosyne_lopt import pretrained
import jax
import jax.numpy as jnp
import optax

def compile_times(name, fn, *args):
  """{stage, lower_s, compile_s, kernels} of ``jax.jit(fn)`` on ``args``."""
  t0 = time.perf_counter()
  lowered = jax.jit(fn).lower(*args)
  t1 = time.perf_counter()
  compiled = lowered.compile()
  t2 = time.perf_counter()
  return {"stage": name, "lower_s": t1 - t0, "compile_s": t2 - t1,
          "kernels": compiled.as_text().count("fusion(")}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--tree", default="transformer_lm_tiny",
                      choices=["mlp"] + sorted(step_overhead.MODEL_TREES))
  parser.add_argument("--json", default=None)
  args = parser.parse_args(argv)
  key = jax.random.PRNGKey(1)
  if args.tree == "mlp":
    params = {k: 0.02 * jax.random.normal(jax.random.fold_in(key, i), s)
              for i, (k, s) in enumerate(step_overhead.MLP_SHAPES.items())}
  else:
    params = step_overhead.model_tree(key, args.tree)
  grads = jax.tree_util.tree_map(lambda p: 1e-3 * jnp.ones_like(p), params)
  # pylint: disable=protected-access
  lopt, theta = pretrained.load_pretrained("plain")
  opt = lopt.opt_fn(theta)
  state = opt.init(params, num_steps=1000)
  flat = jax.tree_util.tree_structure(params).flatten_up_to
  gs, ms, vs = flat(grads), flat(state.momentum), flat(state.second_moment)
  layouts = [hpe.ChunkLayout(jnp.shape(g), lopt.chunk_length) for g in gs]
  it, finite = state.iteration, jnp.asarray(True)
  sums = lopt._tree_sums_v2(layouts, gs, ms, vs, it)
  network = lambda s, mem: lopt._chunk_network_v2(theta, layouts, s, mem, it, state.num_steps, finite)
  coeffs, _ = network(sums, state.memory)
  adamw = optax.adamw(1e-3)
  rows = [
      compile_times("adamw update", adamw.update, grads, adamw.init(params), params),
      compile_times("mnemosyne update", opt.update, state, grads),
      compile_times("  statistics", lambda gs, ms, vs: lopt._tree_sums_v2(layouts, gs, ms, vs, it),
                    gs, ms, vs),
      compile_times("  network", network, sums, state.memory),
      compile_times("  apply", lambda gs, ms, vs, cs: lopt._apply_all_v2(
          layouts, gs, ms, vs, cs, it, finite), gs, ms, vs, coeffs),
  ]
  print(f"{args.tree}: {len(gs)} tensors, {sum(lay.num_chunks for lay in layouts)} chunks")
  print("| stage | lower (s) | compile (s) | kernels |\n|---|---:|---:|---:|")
  for r in rows:
    print(f"| {r['stage']} | {r['lower_s']:.2f} | {r['compile_s']:.2f} | {r['kernels']} |")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"tree": args.tree, "num_tensors": len(gs), "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main()

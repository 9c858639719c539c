"""What a user waits for before the first step: import, construction, init, the first jitted update.

Each measurement runs in a fresh Python process (nothing cached in memory; JAX's persistent
compilation cache off), for ``mnemosyne_lopt.mnemosyne()`` (``--pretrained NAME``:
``mnemosyne(name=NAME)``) and for ``optax.adamw(1e-3)``:

  * ``import``: ``import mnemosyne_lopt`` (learned_optimization's base imports TensorFlow through
    ``learned_optimization.summary``), or ``import optax`` for AdamW;
  * ``construct``: ``mnemosyne_lopt.mnemosyne()`` (loads the shipped theta and draws the fixed
    random-feature projections) or ``optax.adamw(1e-3)``;
  * ``init``: ``tx.init(params)``;
  * ``first step``: the first call of ``jit(update + apply_updates)`` (tracing, compilation, one run);
  * ``step``: the median of 20 later calls.

Trees (``--trees``): ``mlp`` (784-128-10, 4 tensors) and the trees of ``step_overhead.MODEL_TREES``
(``transformer_lm_tiny``: 38 tensors, ``gpt2_small``: 148 tensors and 124M parameters).

    PYTHONPATH=. .venv/bin/python benchmarks/startup.py [--trees mlp,transformer_lm_tiny] [--json F]
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
if {optimizer!r} == "mnemosyne":
  import mnemosyne_lopt
else:
  import optax
t1 = time.perf_counter()
import jax, jax.numpy as jnp, optax
import step_overhead
if {tree!r} == "mlp":
  shapes = step_overhead.MLP_SHAPES
else:
  shapes = step_overhead.MODEL_TREES[{tree!r}]()
params = {{k: 0.02 * jnp.ones(s, jnp.float32) for k, s in shapes.items()}}
grads = {{k: 1e-3 * jnp.ones(s, jnp.float32) for k, s in shapes.items()}}
jax.block_until_ready((params, grads))
t2 = time.perf_counter()
tx = (mnemosyne_lopt.mnemosyne(name={pretrained!r}) if {optimizer!r} == "mnemosyne"
      else optax.adamw(1e-3))
t3 = time.perf_counter()
state = jax.block_until_ready(tx.init(params))
t4 = time.perf_counter()

@jax.jit
def step(p, s, g):
  u, s = tx.update(g, s, p)
  return optax.apply_updates(p, u), s
p, state = jax.block_until_ready(step(params, state, grads))
t5 = time.perf_counter()
times = []
for _ in range(20):
  a = time.perf_counter()
  p, state = jax.block_until_ready(step(p, state, grads))
  times.append(time.perf_counter() - a)
times.sort()
print("RESULT " + json.dumps({{"import": t1 - t0, "construct": t3 - t2, "init": t4 - t3,
                              "first step": t5 - t4, "step": times[len(times) // 2],
                              "tensors": len(shapes)}}))
"""


def measure(optimizer, tree, pretrained="default"):
  env = dict(os.environ, JAX_ENABLE_COMPILATION_CACHE="false",
             PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
  out = subprocess.run([sys.executable, "-c", CHILD.format(here=HERE, optimizer=optimizer, tree=tree,
                                                                pretrained=pretrained)],
                       capture_output=True, text=True, env=env, check=False)
  for line in out.stdout.splitlines():
    if line.startswith("RESULT "):
      return json.loads(line[len("RESULT "):])
  raise RuntimeError(f"{optimizer} on {tree} failed:\n{out.stderr[-3000:]}")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--trees", default="mlp,transformer_lm_tiny")
  parser.add_argument("--json", default=None)
  parser.add_argument("--pretrained", default="default",
                      help="which shipped Mnemosyne: mnemosyne(name=...) (default, plain)")
  args = parser.parse_args(argv)
  rows = []
  cols = ("import", "construct", "init", "first step", "step")
  print("| tree (tensors) | optimizer | " + " | ".join(c + " (s)" if c != "step" else "step (ms)"
                                                     for c in cols) + " |")
  print("|---|---|" + "---:|" * len(cols))
  for tree in args.trees.split(","):
    for optimizer in ("adamw", "mnemosyne"):
      r = measure(optimizer, tree, args.pretrained)
      rows.append(dict(r, tree=tree, optimizer=optimizer))
      cells = [f"{r[c]:.2f}" if c != "step" else f"{1e3 * r[c]:.2f}" for c in cols]
      print(f"| {tree} ({r['tensors']}) | {optimizer} | " + " | ".join(cells) + " |", flush=True)
  if args.json:
    from benchmark_common import code_version  # pylint: disable=g-import-not-at-top
    with open(args.json, "w") as f:
      json.dump({"code": code_version(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
  sys.path.insert(0, HERE)
  main()

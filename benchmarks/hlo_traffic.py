"""What the compiled update spends its memory traffic on: bytes read and written per top-level op.

The update of a large tree is memory-bound (a few flops per byte), so the bytes that each top-level
op of the optimised XLA program (``jit(...).lower(...).compile().as_text()``, after fusion) reads
and writes say where the time goes, independently of the machine's load.  Prints, for each
optimizer, every op moving more than 2 MB and the totals.

    PYTHONPATH=. .venv/bin/python benchmarks/hlo_traffic.py --params 4M adam mnemosyne
    PYTHONPATH=. .venv/bin/python benchmarks/hlo_traffic.py --tree gpt2_small adam mnemosyne
"""

import argparse
import re
import sys

import numpy as np

import step_overhead  # pylint: disable=g-import-not-at-top
import jax
import jax.numpy as jnp

_BYTES = {"f32": 4, "s32": 4, "u32": 4, "bf16": 2, "pred": 1}


def _nbytes(shape_text):
  total = 0
  for dt, dims in re.findall(r"(f32|s32|u32|bf16|pred)\[([0-9,]*)\]", shape_text):
    total += int(np.prod([int(d) for d in dims.split(",") if d] or [1])) * _BYTES[dt]
  return total


def entry_traffic(hlo_text, min_bytes=2e6):
  """[(op, name, bytes read, bytes written)] of the ENTRY computation's ops moving >= min_bytes."""
  entry = hlo_text[hlo_text.index("ENTRY"):]
  entry = entry[:entry.index("\n}\n")]
  sizes, rows = {}, []
  for line in entry.splitlines()[1:]:
    m = re.match(r"\s*(?:ROOT )?(%?[\w.\-]+) = (.+?) ([a-z][\w\-]*)\((.*?)\)", line)
    if not m:
      continue
    var, shape, op, operands = m.groups()
    sizes[var] = _nbytes(shape)
    if op in ("parameter", "get-tuple-element", "tuple", "constant", "bitcast"):
      continue
    read = sum(sizes.get(o.strip().split(" ")[-1], 0) for o in operands.split(",") if o.strip())
    if read + sizes[var] >= min_bytes:
      rows.append((op, var, read, sizes[var]))
  return rows


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("optimizers", nargs="+")
  parser.add_argument("--params", default="4M")
  parser.add_argument("--tensor_shape", default="1024,1024", help="shape of the tree's tensors")
  parser.add_argument("--tree", default=None, choices=sorted(step_overhead.MODEL_TREES),
                      help="a model's tree instead (step_overhead.MODEL_TREES)")
  args = parser.parse_args(argv)
  key = jax.random.PRNGKey(0)
  shape = tuple(int(x) for x in args.tensor_shape.split(","))
  if args.tree:
    tree = step_overhead.model_tree(key, args.tree)
  else:
    tree = step_overhead.make_tree(key, step_overhead.parse_size(args.params), shape)
  grads = jax.tree_util.tree_map(lambda p: 1e-3 * p, tree)
  for name in args.optimizers:
    state, step, theta, _ = step_overhead.build(name, step_overhead.fresh_copy(tree), key)
    rows = entry_traffic(step.lower(theta, state, grads, jnp.float32(1.0)).compile().as_text())
    read, written = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"## {name}: {len(rows)} ops over 2 MB; read {read / 1e6:.0f} MB, written {written / 1e6:.0f} MB, "
          f"total {(read + written) / 1e6:.0f} MB")
    for op, var, rd, wr in rows:
      print(f"  {op:10s} {var:32s} read {rd / 1e6:7.2f} MB  write {wr / 1e6:7.2f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
  main()

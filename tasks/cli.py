"""Console script ``mnemosyne-tasks``: the registered inner tasks, their sizes and their memory.

  mnemosyne-tasks list [--family F]
      every registered task and task family with its parameter count (``jax.eval_shape``).
  mnemosyne-tasks memory --task NAME --mesh SHAPE [--mesh SHAPE ...] [--num_steps N] [--markdown]
      per-device bytes of parameters, gradients and optimizer state for Adam and Mnemosyne under a
      mesh of DATA or DATAxMODEL devices, with the sharding rule of ``tasks/memory.py``; shapes
      only, nothing allocated.
"""

import argparse
import sys
from typing import Optional, Sequence

from mnemosyne_lopt.tasks import memory
from mnemosyne_lopt.tasks import registry


def _all_entries():
  # Modules that register their own entries on import (those that exist in this checkout).
  import importlib  # pylint: disable=g-import-not-at-top
  for module in ("t5", "bert", "text_tasks", "lm"):
    try:
      importlib.import_module(f"mnemosyne_lopt.tasks.{module}")
    except ImportError:
      pass
  return [registry.get(n) for n in registry.names()]


def cmd_list(family: Optional[str]) -> int:
  rows = []
  for e in _all_entries():
    if family and e.family != family:
      continue
    try:
      trainable, frozen = registry.param_shapes(e.name)
      n, nf = memory.num_params(trainable), memory.num_params(frozen or {})
      count = f"{n:,}" + (f" (+{nf:,} frozen)" if nf else "")
      note = "" if e.runs_here else " [shapes only here]"
    except (FileNotFoundError, ValueError, ImportError) as err:
      count, note = "n/a", f" [unavailable: {str(err).splitlines()[0]}]"
    kind = "family" if e.factory.endswith("Family") else "task"
    rows.append((e.name, e.family, kind, count, e.description + note))
  widths = [max(len(r[i]) for r in rows + [("name", "family", "kind", "parameters", "")])
            for i in range(4)]
  header = ("name", "family", "kind", "parameters")
  print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  description")
  for r in rows:
    print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
  return 0


def format_reports(name: str, reports, markdown: bool = False) -> str:
  cols = ("mesh", "params", "frozen", "grads", "Adam state", "Mnemosyne state", "Adam total",
          "Mnemosyne total")
  lines = []
  if markdown:
    lines.append("| task | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
  for r in reports:
    mesh = f"{r.mesh[0]}" if r.mesh[1] == 1 else f"{r.mesh[0]}x{r.mesh[1]}"
    vals = (mesh, memory.human(r.params), memory.human(r.frozen_params), memory.human(r.grads),
            memory.human(r.adam_state), memory.human(r.mnemosyne_state),
            memory.human(r.adam_total), memory.human(r.mnemosyne_total))
    if markdown:
      lines.append(f"| {name} | " + " | ".join(vals) + " |")
    else:
      lines.append(", ".join(f"{c}: {v}" for c, v in zip(cols, vals)))
  return "\n".join(lines)


def cmd_memory(name: str, meshes: Sequence[str], num_steps: int, markdown: bool) -> int:
  _all_entries()
  trainable, frozen = registry.param_shapes(name)
  reports = [memory.memory_report(trainable, m, frozen, num_steps) for m in meshes]
  r0 = reports[0]
  print(f"{name}: {r0.num_trainable:,} trained parameters"
        + (f", {r0.num_frozen:,} frozen" if r0.num_frozen else "")
        + f"; Mnemosyne meta-parameters (replicated): {memory.human(r0.mnemosyne_theta)} "
        "(in its total); per-device bytes, float32:")
  print(format_reports(name, reports, markdown))
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  p = argparse.ArgumentParser(prog="mnemosyne-tasks", description=__doc__.split("\n")[0])
  sub = p.add_subparsers(dest="command", required=True)
  p_list = sub.add_parser("list", help="registered tasks and families with parameter counts")
  p_list.add_argument("--family", default=None)
  p_mem = sub.add_parser("memory", help="per-device bytes for Adam and Mnemosyne under a mesh")
  p_mem.add_argument("--task", required=True)
  p_mem.add_argument("--mesh", action="append", required=True,
                     help="DATA or DATAxMODEL device counts, e.g. 8 or 16x16 (repeatable)")
  p_mem.add_argument("--num_steps", type=int, default=1000)
  p_mem.add_argument("--markdown", action="store_true")
  args = p.parse_args(argv)
  try:
    if args.command == "list":
      return cmd_list(args.family)
    return cmd_memory(args.task, args.mesh, args.num_steps, args.markdown)
  except (KeyError, ValueError, FileNotFoundError) as e:
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    print(f"mnemosyne-tasks: error: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":
  sys.exit(main())

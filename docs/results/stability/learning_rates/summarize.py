"""Blow-ups and final losses of the shipped default against AdamW and Adam at the learning rates a
user is told to try (1e-3, 3e-3, 1e-2), on mnemosyne-stability's suite and its architectures.

    python3 docs/results/stability/learning_rates/summarize.py

Reads the stability JSON files (``mnemosyne-stability --json``) listed in ``RUNS``; prints, per
problem set and learning rate, the blow-ups of each optimizer, the blow-ups of ``mnemosyne`` and
``mnemosyne_T`` at a problem-horizon where AdamW blew up in no seed, and the problem-horizons whose
median final training loss is below AdamW's.
"""
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
STABILITY = os.path.dirname(HERE)
RUNS = {("suite", 1e-3): os.path.join(STABILITY, "default.json"),
        ("suite", 3e-3): os.path.join(HERE, "suite_lr3e-3.json"),
        ("suite", 1e-2): os.path.join(HERE, "suite_lr1e-2.json"),
        ("architectures", 1e-3): os.path.join(STABILITY, "architectures", "default.json"),
        ("architectures", 3e-3): os.path.join(STABILITY, "architectures", "lr_3e-3.json"),
        ("architectures", 1e-2): os.path.join(HERE, "architectures_lr1e-2.json")}
OPTIMIZERS = ("mnemosyne", "mnemosyne_T", "adamw", "adam")


def summarize(path):
  """(runs, blow-ups per optimizer, blow-ups of each Mnemosyne where AdamW had none, cells below
  AdamW's median per Mnemosyne, cells) of one stability JSON."""
  with open(path) as f:
    results = json.load(f)["results"]
  cells = {}
  for r in results:
    cells.setdefault((r["problem"], r["steps"]), {}).setdefault(r["optimizer"], []).append(r)
  blow = {o: sum(r["blew_up"] for c in cells.values() for r in c.get(o, [])) for o in OPTIMIZERS}
  alone, below = {}, {}
  for o in ("mnemosyne", "mnemosyne_T"):
    alone[o] = sum(sum(r["blew_up"] for r in c[o]) for c in cells.values()
                   if not any(r["blew_up"] for r in c["adamw"]))
    below[o] = sum(statistics.median(r["final_loss"] for r in c[o])
                   < statistics.median(r["final_loss"] for r in c["adamw"]) for c in cells.values())
  runs = len(next(iter(cells.values()))["mnemosyne"]) * len(cells)
  return runs, blow, alone, below, len(cells)


def main():
  lines = ["| problems | learning rate | runs each | blow-ups: `mnemosyne()` | told T | AdamW | Adam | "
           "`mnemosyne()` / told T blowing up where AdamW did not | problem-horizons below AdamW's "
           "median: `mnemosyne()`, told T |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for (problems, lr), path in RUNS.items():
    if not os.path.exists(path):
      lines.append(f"| {problems} | {lr:g} | (not run: {os.path.relpath(path, HERE)}) | | | | | | |")
      continue
    runs, blow, alone, below, n = summarize(path)
    lines.append(f"| {problems} | {lr:g} | {runs} | {blow['mnemosyne']} | {blow['mnemosyne_T']} | "
                 f"{blow['adamw']} | {blow['adam']} | {alone['mnemosyne']} / {alone['mnemosyne_T']} | "
                 f"{below['mnemosyne']} of {n}, {below['mnemosyne_T']} of {n} |")
  print("\n".join(lines))


if __name__ == "__main__":
  main()

"""benchmarks/run_all.py --quick: the suite runs end to end and its table is well formed.

A structural smoke test: tiny trees and budgets, so the figures themselves mean nothing and no
timing is asserted; every ratio must be a positive finite number and every target row must carry a
verdict.  The PES part is skipped (--skip_pes): compiling three learned optimizers' PES steps takes
minutes on 2 cores; ``pes_benchmarks`` runs in the full suite, whose results are committed.
"""

import json
import math
import os
import re
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

import run_all  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position


def test_quick_suite_table_structure(tmp_path):
  prefix = str(tmp_path / "run_all")
  res = run_all.main(["--quick", "--skip_pes", "--out_prefix", prefix])
  with open(prefix + ".md") as f:
    md = f.read()
  with open(prefix + ".json") as f:
    saved = json.load(f)
  assert saved["quick"] is True and saved["table"]
  rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| quantity")]
  cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
  assert all(len(c) == 6 for c in cells), cells
  names = [c[0] for c in cells]
  for needed in ("update time, 4K", "update time, 8K", "update time, 16K",
                 "update time vs AdafacMLPLOpt, 4K", "update time vs RNNMLPLOpt, 4K",
                 "compute_dtype=bfloat16", "floats / param", "update peak memory", "linearity",
                 "PES meta-training", "largest MLP", "largest Transformer",
                 "update time, transformer_lm_tiny tree (137,216 params, 38 tensors)",
                 "floats / param (excl. params), transformer_lm_tiny tree"):
    assert any(needed in n for n in names), (needed, names)
  targets = [c for c in cells if c[4] and "PES" not in c[0]]
  assert len(targets) == 7, targets     # 2x Adam, 2.1 floats, linearity, 2x fit, tree: 2x, 2.1
  assert all(c[5] in ("PASS", "FAIL") for c in targets)
  assert [c[1] for c in cells if "PES" in c[0]] == ["not run (--skip_pes)"] * 2
  for c in cells:
    if c[3]:
      ratio = float(re.match(r"[0-9.eE+-]+", c[3]).group(0))
      assert math.isfinite(ratio) and ratio > 0, c
  # The numbers behind the table: finite, positive, and the PES runs really trained.
  for r in res["update"]:
    assert r["ms_median"] > 0 and r["paired_ratio_to_adam"] > 0 and r["update_peak_bytes"] > 0
  for key, fit in res["fit"].items():
    assert fit["fits"]["peak_bytes"] <= saved["budget_gib"] * 2 ** 30 < fit["first_too_big"]["peak_bytes"], key
    assert fit["first_too_big"]["width"] - fit["fits"]["width"] == 64, key

"""This folder's table: ``mnemosyne()`` with the task's length withheld (as a user runs it without
``num_steps``) beside the same optimizer told it (``mnemosyne(num_steps=T)``, every other held_out
figure of the default), AdamW at 3e-3 and 1e-3, and tuned AdamW, with the counts the v2 issue's
targets name.

    PYTHONPATH=. .venv/bin/python docs/results/eval/held_out_default_no_horizon_3seeds/summarize.py

Reads this folder's runs (after ``run.sh merge``; MiniLM's from its ``minilm_*.json``) and the
references of ``../held_out_default_lr3e-3_3seeds/summarize.py`` (the told runs, AdamW, tuned
AdamW and tuned Adam on MiniLM, the same tasks and seeds).  Prints the markdown table and the
counts; writes ``summary.json``.
"""
import json
import os
import sys

import numpy as np

from mnemosyne_lopt import evaluation, stability

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "held_out_default_lr3e-3_3seeds"))
import summarize as told_summary  # pylint: disable=g-import-not-at-top,wrong-import-position

HIDDEN = "mnemosyne_no_horizon:pretrained@0.003"
TASKS = told_summary.NINE + [told_summary.FT, told_summary.PROMPT]


def main():
  own = told_summary._load(os.path.basename(HERE))  # pylint: disable=protected-access
  told = told_summary._load("held_out_default_lr3e-3_3seeds")  # pylint: disable=protected-access
  refs = told_summary.references(told)
  per_seed = told_summary._per_seed  # pylint: disable=protected-access
  ran = [t for t in TASKS if t in own and HIDDEN in own[t]["results"]]
  out = {}
  print("| task | AdamW 3e-3 | `mnemosyne(num_steps=T)` | `mnemosyne()`, no horizon | hidden / told | "
        "seeds lower than told | AdamW tuned (rate) |")
  print("|---|---:|---:|---:|---:|---:|---:|")
  for t in ran:
    h, k = per_seed(own, t, HIDDEN), per_seed(told, t, told_summary.DEFAULT)
    o = {"hidden": float(np.mean(h)), "told": float(np.mean(k)), "a3": float(np.mean(refs[t]["a3"])),
         "a1": float(np.mean(refs[t]["a1"])), "tuned": float(np.mean(refs[t]["tuned"])),
         "tuned_rate": refs[t]["tuned_rate"], "seeds": len(h),
         "seeds_below_told": int(sum(x < y for x, y in zip(h, k)))}
    out[t] = o
    print(f"| {t} | {o['a3']:.4f} | {o['told']:.4f} | {o['hidden']:.4f} | {o['hidden'] / o['told']:.3f} | "
          f"{o['seeds_below_told']} of {o['seeds']} | {o['tuned']:.4f} ({o['tuned_rate']:.3g}) |")
  below = lambda key, ref: [t for t in ran if out[t][key] < out[t][ref]]
  within = lambda key: [t for t in ran if out[t][key] <= (1 + evaluation.WITHIN) * out[t]["tuned"]]
  curves = [r["train_curve"] for t in ran for r in own[t]["results"][HIDDEN]["runs"] if "train_curve" in r]
  summary = {
      "tasks": out,
      "hidden_below_adamw_3e-3": below("hidden", "a3"),
      "told_below_adamw_3e-3": below("told", "a3"),
      "hidden_below_adamw_1e-3": below("hidden", "a1"),
      "hidden_within_2pct_of_tuned_adamw": within("hidden"),
      "told_within_2pct_of_tuned_adamw": within("told"),
      "hidden_below_told": below("hidden", "told"),
      "median_hidden_over_told": float(np.median([out[t]["hidden"] / out[t]["told"] for t in ran])),
      "hidden_blow_ups": [sum(bool(stability.blew_up(c)) for c in curves), len(curves)],
  }
  lms = told_summary.NINE[:2]
  if all(t in out for t in lms):
    summary["lm_init_gap_hidden"] = out[lms[1]]["hidden"] / out[lms[0]]["hidden"] - 1
  n = len(ran)
  print(f"\nof {n} tasks: no horizon below AdamW 3e-3 on {len(summary['hidden_below_adamw_3e-3'])} "
        f"(told: {len(summary['told_below_adamw_3e-3'])}), below AdamW 1e-3 on "
        f"{len(summary['hidden_below_adamw_1e-3'])}; within 2 % of tuned AdamW on "
        f"{len(summary['hidden_within_2pct_of_tuned_adamw'])} (told: "
        f"{len(summary['told_within_2pct_of_tuned_adamw'])}); below told on "
        f"{len(summary['hidden_below_told'])}, median hidden / told "
        f"{summary['median_hidden_over_told']:.3f}; blow-ups {summary['hidden_blow_ups'][0]} of "
        f"{summary['hidden_blow_ups'][1]} runs with curves"
        + (f"; LM initialisations {100 * summary['lm_init_gap_hidden']:.1f} % apart"
           if "lm_init_gap_hidden" in summary else ""))
  with open(os.path.join(HERE, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)


if __name__ == "__main__":
  main()

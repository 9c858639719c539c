"""The README table of this folder: `mnemosyne()` at its default 3e-3 beside AdamW at 3e-3 and 1e-3,
`mnemosyne(1e-3)` and tuned AdamW, with the counts the v2 issue's targets name.

    PYTHONPATH=. .venv/bin/python docs/results/eval/held_out_default_lr3e-3_3seeds/summarize.py

Reads this folder's runs (after ``run.sh merge``) and, for the same tasks and seeds: AdamW at 1e-3 from
``../held_out_v2_wd_3seeds/`` and ``../held_out_v2_wd_minilm_3seeds/``; ``mnemosyne(1e-3)`` from
``../held_out_orthogonal_3seeds/``, ``../held_out_orthogonal_minilm_finetune_shipped_3seeds/`` and
``../held_out_orthogonal_minilm_3seeds/``; tuned AdamW from ``../held_out_tuned_extended_3seeds/``
(grids extended), tuned Adam on MiniLM from ``../minilm_finetune_tuned_3seeds/picks.json`` and
``../minilm_prompt_tuned_3seeds/picks.json`` (rates picked on seeds 0-2, test losses per seed); the learned optimizers meta-trained for
the same 1,000 outer steps as the default's theta (LEARNED: both LSTMs and the Celo2-style rule as
meta-trained, from ``../held_out_v2_small_stage2_3seeds/``; the Celo2-style rule at the rate its
selection puts first, ``../held_out_celo2_style_lr3e-4_3seeds/``; and the Celo2-style rule of
3,000 outer steps of "plain"'s recipe, ``../held_out_celo2_equal_budget_*_3seeds/``).  Prints the markdown table and the
counts; writes ``summary.json``.
"""
import json
import os

import numpy as np

from mnemosyne_lopt import evaluation

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
DEFAULT, SAME_RATE = "mnemosyne:pretrained@0.003", "adamw@0.003"
NINE = ["transformer_lm_kjv_tiny", "transformer_lm_kjv_tiny_flaxinit", "vit_tiny_finetune",
        "bert_mlm_austen_tiny", "t5_tiny_prompt", "mnist5k28_mlp128x64_relu_10k",
        "mnist_npm28_mlp32_tanh_10k", "mnist_npm28_conv16x32", "lo_quadratic10"]
FT, PROMPT = "minilm_finetune_austen", "minilm_prompt_austen"
STAGE2 = "held_out_v2_small_stage2_3seeds"
_MT = "docs/results/meta_training/v2_small_stage2/"
CELO2_SELECTED = "held_out_celo2_style_lr3e-4_3seeds"
LEARNED = {"LSTM": (STAGE2, f"lstm:{_MT}lstm"),
           "feature LSTM": (STAGE2, f"lstm_features:{_MT}lstm_features"),
           "Celo2-style rule at 1e-3 (as meta-trained)": (STAGE2, f"celo2_style:{_MT}celo2_style"),
           "Celo2-style rule at 3e-4 (first in its rate selection by validation)": (CELO2_SELECTED,
                                                            f"celo2_style:{_MT}celo2_style@0.0003"),
           "Celo2-style rule of 3,000 outer steps of \"plain\"'s recipe, at 1e-3": (
               tuple(f"held_out_celo2_equal_budget_{p}_3seeds"
                     for p in ("lms", "others", "minilm_finetune", "minilm_prompt")),
               "celo2_style:docs/results/meta_training/celo2_style_v2_stage8")}


def _load(folder):
  """The tasks of a results folder, with the MiniLM runs of its ``minilm_finetune.json`` /
  ``minilm_prompt.json`` (``../minilm_finetune_runs.py``'s records, one optimizer at its own
  rate) as runs of that optimizer in seed order."""
  path = os.path.join(EVAL, folder)
  tasks = evaluation.load_results(path)["tasks"] if any(
      os.path.exists(os.path.join(path, f)) for f in ("results.json", "results.json.gz")) else {}
  for task in (FT, PROMPT):
    records = os.path.join(path, f"{task.removesuffix('_austen')}.json")
    if os.path.exists(records):
      with open(records) as f:
        runs = sorted(json.load(f), key=lambda r: r["seed"])
      assert [r["seed"] for r in runs] == list(range(len(runs))), records
      spec, rate = evaluation._split_rate(runs[0]["optimizer"])  # pylint: disable=protected-access
      name = spec if rate is None else f"{spec}@{rate:g}"         # as mnemosyne-eval names it
      tasks[task] = {"results": {name: {"runs": runs}}}
  return tasks


def _per_seed(tasks, task, name):
  return [r["final_test"] for r in tasks[task]["results"][name]["runs"]]


def minilm_tuned_adam():
  """Tuned Adam on the two MiniLM tasks, picked on seeds 0-2: {task: picks.json's adam_tuned
  entry} (``final_test_per_seed``, ``chosen_lr``, ...)."""
  picks = {}
  for task, folder in ((FT, "minilm_finetune_tuned_3seeds"), (PROMPT, "minilm_prompt_tuned_3seeds")):
    with open(os.path.join(EVAL, folder, "picks.json")) as f:
      picks[task] = json.load(f)["adam_tuned"]
  return picks


def references(own):
  """Per task of NINE + [FT, PROMPT]: the per-seed test losses of AdamW at 3e-3 (from ``own``,
  this folder's ``_load``), AdamW at 1e-3, ``mnemosyne(1e-3)`` and tuned AdamW (tuned Adam on
  MiniLM), and the tuned rate: {task: {"a3": [...], "a1": [...], "m1": [...], "tuned": [...],
  "tuned_rate": r}}."""
  adamw = {**_load("held_out_v2_wd_3seeds"), **_load("held_out_v2_wd_minilm_3seeds")}
  at_1e3 = {**_load("held_out_orthogonal_3seeds"), **_load("held_out_orthogonal_minilm_3seeds")}
  at_1e3[FT] = _load("held_out_orthogonal_minilm_finetune_shipped_3seeds")[FT]
  tuned_nine = _load("held_out_tuned_extended_3seeds")
  picks = minilm_tuned_adam()
  out = {}
  for task in NINE + [FT, PROMPT]:
    if task in NINE:
      tuned = _per_seed(tuned_nine, task, "adamw_tuned")
      rate = tuned_nine[task]["results"]["adamw_tuned"]["chosen_lr"]
    else:
      tuned, rate = picks[task]["final_test_per_seed"], picks[task]["chosen_lr"]
    out[task] = {"a3": _per_seed(own, task, SAME_RATE), "a1": _per_seed(adamw, task, "adamw"),
                 "m1": _per_seed(at_1e3, task, "mnemosyne:pretrained/orthogonal"),
                 "tuned": tuned, "tuned_rate": rate}
  return out


def main():
  own = _load(os.path.basename(HERE))
  refs = references(own)
  rows, out = [], {}
  for task in NINE + [FT, PROMPT]:
    m, a3 = _per_seed(own, task, DEFAULT), refs[task]["a3"]
    means = {k: float(np.mean(v)) for k, v in dict(
        m=m, **{k: refs[task][k] for k in ("a3", "a1", "m1", "tuned")}).items()}
    out[task] = dict(means, tuned_rate=refs[task]["tuned_rate"], seeds=len(m),
                     seeds_below_a3=int(sum(x < y for x, y in zip(m, a3))))
    rows.append(task)
  below_a3 = [t for t in rows if out[t]["m"] < out[t]["a3"]]
  below_a1 = [t for t in rows if out[t]["m"] < out[t]["a1"]]
  within = [t for t in rows if out[t]["m"] <= (1 + evaluation.WITHIN) * out[t]["tuned"]]
  within_1e3 = [t for t in rows if out[t]["m1"] <= (1 + evaluation.WITHIN) * out[t]["tuned"]]
  gap = out[NINE[1]]["m"] / out[NINE[0]]["m"] - 1
  print("| task | AdamW 1e-3 | AdamW 3e-3 | `mnemosyne()` | `mnemosyne(1e-3)` | AdamW tuned (rate) | seeds below AdamW 3e-3 |")
  print("|---|---:|---:|---:|---:|---:|---:|")
  for t in rows:
    o = out[t]
    print(f"| {t} | {o['a1']:.4f} | {o['a3']:.4f} | {o['m']:.4f} | {o['m1']:.4f} | {o['tuned']:.4f} "
          f"({o['tuned_rate']:.3g}) | {o['seeds_below_a3']} of {o['seeds']} |")
  summary = {"below_adamw_3e-3": below_a3, "below_adamw_1e-3": below_a1,
             "within_2pct_of_tuned_adamw": within, "within_2pct_of_tuned_adamw_at_1e-3": within_1e3,
             "lm_init_gap": gap,
             "median_ratio_to_adamw_3e-3": float(np.median([out[t]["m"] / out[t]["a3"] for t in rows])),
             "median_ratio_to_adamw_1e-3": float(np.median([out[t]["m"] / out[t]["a1"] for t in rows])),
             "tasks": out}
  n = len(rows)
  print(f"\nbelow AdamW at 3e-3: {len(below_a3)} of {n}; below AdamW at 1e-3: {len(below_a1)} of {n}; "
        f"within 2 % of tuned AdamW: {len(within)} of {n} ({', '.join(within)}; mnemosyne(1e-3): "
        f"{len(within_1e3)}); LM initialisations {100 * gap:.1f} % apart; median ratio to AdamW 3e-3 "
        f"{summary['median_ratio_to_adamw_3e-3']:.3f}, to AdamW 1e-3 {summary['median_ratio_to_adamw_1e-3']:.3f}")
  summary["equal_budget"] = equal_budget(own, rows)
  with open(os.path.join(HERE, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)


def equal_budget(own, tasks):
  """Claim (a) at the default rate: per learned optimizer of LEARNED (meta-trained for the same
  1,000 outer steps of v2_small as the default's theta), the tasks (of those both ran) where
  ``mnemosyne()``'s mean test loss is below its (on the seeds both ran), and the task-seed pairs;
  printed and returned."""
  out = {}
  print()
  for label, (folders, name) in LEARNED.items():
    folders = (folders,) if isinstance(folders, str) else folders
    if not all(os.path.exists(os.path.join(EVAL, f)) for f in folders):
      continue
    theirs = {t: r for f in folders for t, r in _load(f).items()}
    ran = [t for t in tasks if t in theirs and name in theirs[t]["results"]]
    if not ran:
      continue
    below, pairs, total, fewer = [], 0, 0, {}
    for t in ran:
      m, b = _per_seed(own, t, DEFAULT), _per_seed(theirs, t, name)
      n = min(len(m), len(b))          # the seeds both ran (a run depends on its seed only)
      if n < len(m):
        fewer[t] = n
      m, b = m[:n], b[:n]
      below += [t] if np.mean(m) < np.mean(b) else []
      pairs += int(sum(x < y for x, y in zip(m, b)))
      total += n
    out[label] = {"below": below, "of": ran, "seed_pairs_below": pairs, "seed_pairs": total,
                  "tasks_on_fewer_seeds": fewer}
    print(f"below {label}: {len(below)} of {len(ran)} ({pairs} of {total} task-seed pairs); not "
          f"below on: {', '.join(t for t in ran if t not in below) or 'none'}"
          + "".join(f"; {t} on seeds 0-{k - 1} only" for t, k in fewer.items()))
  both = [t for t in out["LSTM"]["of"] if t in out["LSTM"]["below"] and t in out["feature LSTM"]["below"]]
  out["both LSTMs"] = {"below": both, "of": out["LSTM"]["of"]}
  print(f"below both LSTMs: {len(both)} of {len(out['LSTM']['of'])}")
  return out


if __name__ == "__main__":
  main()

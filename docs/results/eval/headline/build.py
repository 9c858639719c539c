"""held_out's headline table: the untuned default against the hand-designed field tuned and the
learned optimizers meta-trained at equal budget, 3 seeds, constant learning rates.

    PYTHONPATH=. .venv/bin/python docs/results/eval/headline/build.py

Reads committed runs only (no training): per task of held_out's eleven, the final test loss (mean
over seeds 0-2) of
  - ``mnemosyne()`` untuned, its default 3e-3 (``../held_out_default_lr3e-3_3seeds/``);
  - AdamW at its default 1e-3, untuned (``../held_out_v2_wd_3seeds/``, ``../held_out_v2_wd_minilm_3seeds/``);
  - AdamW, Muon, schedule-free AdamW and Lion, each with its learning rate tuned on validation
    loss over its default x 10^{-1 .. 1}, extended while the pick is at an end
    (``../held_out_tuned_extended_3seeds/``); on the two MiniLM tasks Adam stands in the AdamW
    column (picked on seeds 0-2: ``../minilm_finetune_tuned_3seeds/``,
    ``../minilm_prompt_tuned_3seeds/``); the other tuned optimizers on the MiniLM tasks are those
    with a 3-seed pick in ``../minilm_prompt_field_3seeds/picks.json`` and
    ``../minilm_finetune_field_3seeds/picks.json``;
  - the learned optimizers meta-trained for the same 1,000 outer steps of the same recipe as the
    default's theta (``../held_out_v2_small_stage2_3seeds/``): the Celo2-style rule at 1e-3, its
    meta-training rate, and both LSTMs (which do not fit MiniLM fine-tuning in this machine's memory).
Prints the markdown table (bold: the lowest of a row) and the per-column counts; writes
``headline.json`` and ``headline.png`` (each loss / AdamW 1e-3's) beside this file.
"""
import json
import os
import sys

import numpy as np

from mnemosyne_lopt import evaluation, stability

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(EVAL, "held_out_default_lr3e-3_3seeds"))
import summarize  # pylint: disable=g-import-not-at-top,wrong-import-position

TASKS = summarize.NINE + [summarize.FT, summarize.PROMPT]
LABELS = {"transformer_lm_kjv_tiny": "byte-level Transformer LM, std 0.02",
          "transformer_lm_kjv_tiny_flaxinit": "the same LM, flax's initialisers",
          "vit_tiny_finetune": "tiny ViT fine-tuning", "bert_mlm_austen_tiny": "BERT masked LM",
          "t5_tiny_prompt": "T5 prompt tuning", "mnist5k28_mlp128x64_relu_10k": "MNIST-5k MLP, 10k steps",
          "mnist_npm28_mlp32_tanh_10k": "MNIST MLP tanh, 10k steps",
          "mnist_npm28_conv16x32": "MNIST conv net", "lo_quadratic10": "learned_optimization's quadratic",
          summarize.FT: "MiniLM fine-tuning", summarize.PROMPT: "MiniLM prompt tuning"}
UNTUNED, ADAMW = "mnemosyne()", "AdamW 1e-3"
TUNED = ["AdamW tuned", "Muon tuned", "schedule-free AdamW tuned", "Lion tuned"]
TUNED_NAMES = ["adamw_tuned", "muon_tuned", "schedule_free_adamw_tuned", "lion_tuned"]
LEARNED = ["Celo2-style", "LSTM", "feature LSTM"]
COLUMNS = [UNTUNED, ADAMW] + TUNED + LEARNED
# (folders, name in their results) per column; MiniLM's tuned Adam: summarize.minilm_tuned_adam().
SOURCES = {
    UNTUNED: (["held_out_default_lr3e-3_3seeds"], summarize.DEFAULT),
    ADAMW: (["held_out_v2_wd_3seeds", "held_out_v2_wd_minilm_3seeds"], "adamw"),
    **{c: (["held_out_tuned_extended_3seeds"], n) for c, n in zip(TUNED, TUNED_NAMES)},
    **{c: ([summarize.STAGE2], f"{k}:{summarize._MT}{k}") for c, k in zip(  # pylint: disable=protected-access
        LEARNED, ["celo2_style", "lstm", "lstm_features"])},
}


def _rate(r):
  """A learning rate as the README writes it: 1, 3.16e-3, 2.5e-2."""
  if r >= 1:
    return f"{r:g}"
  e = int(np.floor(np.log10(r) + 1e-9))
  return f"{round(r / 10.0 ** e, 2):g}e{e}"


def collect():
  """{task: {column: {"final_test": [per seed], "train_curves": [per seed] or None, "rate": r}}}
  for every column that ran the task on seeds 0-2."""
  loaded = {}
  out = {t: {} for t in TASKS}
  for column, (folders, name) in SOURCES.items():
    for folder in folders:
      if folder not in loaded:
        loaded[folder] = summarize._load(folder)  # pylint: disable=protected-access
      for task, entry in loaded[folder].items():
        result = entry["results"].get(name)
        if task not in out or result is None:
          continue
        runs = result["runs"]
        assert len(runs) == 3, (folder, task, name, len(runs))
        out[task][column] = {"final_test": [r["final_test"] for r in runs],
                             "train_curves": [r["train_curve"] for r in runs],
                             "rate": result.get("chosen_lr")}
  for task, pick in summarize.minilm_tuned_adam().items():
    assert len(pick["final_test_per_seed"]) == 3, task
    out[task]["AdamW tuned"] = {"final_test": pick["final_test_per_seed"], "train_curves": None,
                                "rate": pick["chosen_lr"], "adam": True}
  for task, folder in ((summarize.PROMPT, "minilm_prompt_field_3seeds"),
                       (summarize.FT, "minilm_finetune_field_3seeds")):
    with open(os.path.join(EVAL, folder, "picks.json")) as f:
      for name, pick in json.load(f).items():
        out[task][TUNED[TUNED_NAMES.index(name)]] = {
            "final_test": pick["final_test_per_seed"], "train_curves": pick["train_curves"],
            "rate": pick["chosen_lr"]}
  return out


def counts(data):
  """Per column: tasks below AdamW 1e-3; within 2 % (``evaluation.WITHIN``) of the best tuned
  hand-designed optimizer that ran the task or below; within 2 % of tuned AdamW (Adam on MiniLM);
  blow-ups (``stability.blew_up``) over the runs whose training curves are stored; the median over
  tasks of its loss / AdamW 1e-3's."""
  mean = {t: {c: float(np.mean(r["final_test"])) for c, r in cols.items()} for t, cols in data.items()}
  out = {}
  for column in COLUMNS:
    ran = [t for t in TASKS if column in mean[t]]
    best = {t: min(mean[t][c] for c in TUNED if c in mean[t]) for t in ran}
    curves = [c for t in ran for c in (data[t][column]["train_curves"] or [])]
    out[column] = {
        "tasks": len(ran),
        "below_adamw_1e-3": [t for t in ran if column != ADAMW and mean[t][column] < mean[t][ADAMW]],
        "within_2pct_of_best_tuned": [t for t in ran if mean[t][column] <= (1 + evaluation.WITHIN) * best[t]],
        "within_2pct_of_tuned_adamw": [t for t in ran if mean[t][column]
                                       <= (1 + evaluation.WITHIN) * mean[t]["AdamW tuned"]],
        "blow_ups": [sum(bool(stability.blew_up(c)) for c in curves), len(curves)],
        "median_ratio_to_adamw_1e-3": float(np.median([mean[t][column] / mean[t][ADAMW] for t in ran])),
    }
  return mean, out


def main():
  data = collect()
  mean, summary = counts(data)
  print("| task | " + " | ".join(COLUMNS) + " |")
  print("|---|" + "---:|" * len(COLUMNS))
  for t in TASKS:
    lowest = min(mean[t].values())
    cells = []
    for c in COLUMNS:
      if c not in mean[t]:
        cells.append("-")
        continue
      x = mean[t][c]
      cell = f"{x:.4f}" if x >= 5e-5 else "0" if x == 0 else f"{x:.1e}"
      cell = f"**{cell}**" if x == lowest else cell
      rate = data[t][c]["rate"]
      if rate is not None:
        cell += f" ({'Adam, ' if data[t][c].get('adam') else ''}{_rate(rate)})"
      cells.append(cell)
    print(f"| {LABELS[t]} | " + " | ".join(cells) + " |")
  rows = [("below AdamW 1e-3", "below_adamw_1e-3"),
          ("within 2 % of the best tuned", "within_2pct_of_best_tuned"),
          ("within 2 % of tuned AdamW", "within_2pct_of_tuned_adamw")]
  for label, key in rows:
    print(f"| *{label}* | " + " | ".join(
        "" if (c == ADAMW and key == "below_adamw_1e-3") else f"{len(summary[c][key])} of {summary[c]['tasks']}"
        for c in COLUMNS) + " |")
  print("| *blow-ups (runs)* | " + " | ".join("{} of {}".format(*summary[c]["blow_ups"]) for c in COLUMNS) + " |")
  print("| *median loss / AdamW 1e-3's* | " + " | ".join(
      f"{summary[c]['median_ratio_to_adamw_1e-3']:.3f}" for c in COLUMNS) + " |")
  ratios = np.array([[mean[t].get(c, np.nan) / mean[t][ADAMW] for t in TASKS] for c in COLUMNS])
  evaluation.heat_map(ratios, COLUMNS, [LABELS[t] for t in TASKS], os.path.join(HERE, "headline.png"),
                      reference="AdamW 1e-3's", title="held_out, 3 seeds, constant rates: final test "
                      "loss relative to AdamW at 1e-3 (grey: not run)")
  with open(os.path.join(HERE, "headline.json"), "w") as f:
    json.dump({"mean_final_test": mean, "counts": summary,
               "rates": {t: {c: r["rate"] for c, r in cols.items() if r["rate"] is not None}
                         for t, cols in data.items()}}, f, indent=1)


if __name__ == "__main__":
  main()

"""Counts of held_out's nine tasks (3 seeds) against the tuned optimizers of this folder (grids
extended), beside the same counts against the tuned picks before extension.

Run from the repository root after run.sh: .venv/bin/python docs/results/eval/held_out_tuned_extended_3seeds/counts.py

For the default untuned at 1e-3 and at 3e-3 (`mnemosyne()`, ../held_out_default_lr3e-3_3seeds/), its rate tuned, `init_scale_reference=0.02` (../held_out_init_relative_3seeds/)
and `mnemosyne_mechanic()` (../held_out_mechanic_3seeds/): the tasks where its mean final test
loss is within 2 % of tuned AdamW's or below, and of the best tuned hand-designed optimizer's
(AdamW, Muon, schedule-free AdamW, Lion); writes counts.json beside this script.
"""
import json
import os

from mnemosyne_lopt import evaluation

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
FIELD = ("adamw_tuned", "muon_tuned", "schedule_free_adamw_tuned", "lion_tuned")
ROWS = {"mnemosyne() at 1e-3": ("held_out_orthogonal_tuned_3seeds", "mnemosyne:pretrained/orthogonal"),
        "mnemosyne() at 3e-3 (its default)": ("held_out_default_lr3e-3_3seeds", "mnemosyne:pretrained@0.003"),
        "mnemosyne(), rate tuned": ("held_out_orthogonal_tuned_3seeds", "mnemosyne_tuned:pretrained/orthogonal"),
        "init_scale_reference=0.02": ("held_out_init_relative_3seeds", "mnemosyne_init_relative:pretrained"),
        "mnemosyne_mechanic()": ("held_out_mechanic_3seeds", "mnemosyne_mechanic:pretrained")}


def _load(folder):
  return evaluation.load_results(os.path.join(EVAL, folder))


def main():
  sweeps = {"before": _load("held_out_orthogonal_tuned_3seeds"),
            "extended": _load("held_out_tuned_extended_3seeds")}
  out = {}
  for label, (folder, name) in ROWS.items():
    own = _load(folder)
    counts = {}
    for when, field in sweeps.items():
      merged = evaluation.merge_results([field, own])     # the field's tuned runs, the row's own
      counts[when] = {"within_2pct_of_tuned_adamw": evaluation.tasks_within(merged, name, ["adamw_tuned"])[0],
                      "within_2pct_of_best_tuned": evaluation.tasks_within(merged, name, FIELD)[0]}
    out[label] = counts
    print(f"{label}: within 2 % of tuned AdamW {len(counts['before']['within_2pct_of_tuned_adamw'])} "
          f"-> {len(counts['extended']['within_2pct_of_tuned_adamw'])} of 9; of the best tuned "
          f"{len(counts['before']['within_2pct_of_best_tuned'])} -> "
          f"{len(counts['extended']['within_2pct_of_best_tuned'])} of 9")
    for when in ("before", "extended"):
      print(f"  {when}: AdamW {', '.join(counts[when]['within_2pct_of_tuned_adamw'])}")
      print(f"  {when}: best  {', '.join(counts[when]['within_2pct_of_best_tuned'])}")
  field_counts = {n: len(evaluation.tasks_within(sweeps["extended"], n, FIELD)[0])
                  for n in FIELD + ("mnemosyne_tuned:pretrained/orthogonal",)}
  print("within 2 % of the best tuned hand-designed (extended):",
        ", ".join(f"{n} {k}" for n, k in field_counts.items()))
  out["field_within_2pct_of_best_tuned_extended"] = field_counts
  with open(os.path.join(HERE, "counts.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()

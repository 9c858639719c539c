"""Counts of held_out's nine tasks (3 seeds, warmup and cosine decay for every optimizer) against
the tuned field of this folder (grids extended) and of ../held_out_tuned_field_warmup_cosine_3seeds/
(5-point grids).

Run from the repository root after run.sh: .venv/bin/python docs/results/eval/held_out_tuned_field_warmup_cosine_extended_3seeds/counts.py

For `mnemosyne_mechanic()` (its default shape told T) and `mnemosyne()` at peak 1e-3: the tasks
where its mean final test loss is within 2 % of tuned AdamW's or below, and of the best tuned
hand-designed optimizer's (AdamW, Muon, schedule-free AdamW, Lion); writes counts.json.
"""
import json
import os

from mnemosyne_lopt import evaluation

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
FIELD = ("adamw_tuned", "muon_tuned", "schedule_free_adamw_tuned", "lion_tuned")
ROWS = {"mnemosyne_mechanic()": "mnemosyne_mechanic:pretrained",
        "mnemosyne() at peak 1e-3": "mnemosyne:pretrained"}


def main():
  sweeps = {when: evaluation.load_results(os.path.join(EVAL, folder)) for when, folder in (
      ("before", "held_out_tuned_field_warmup_cosine_3seeds"),
      ("extended", "held_out_tuned_field_warmup_cosine_extended_3seeds"))}
  out = {}
  for label, name in list(ROWS.items()) + [(n, n) for n in FIELD]:
    out[label] = {when: {"within_2pct_of_tuned_adamw": evaluation.tasks_within(r, name, ["adamw_tuned"])[0],
                         "within_2pct_of_best_tuned": evaluation.tasks_within(r, name, FIELD)[0]}
                  for when, r in sweeps.items()}
    b, e = out[label]["before"], out[label]["extended"]
    print(f"{label}: within 2 % of tuned AdamW {len(b['within_2pct_of_tuned_adamw'])} -> "
          f"{len(e['within_2pct_of_tuned_adamw'])} of 9; of the best tuned "
          f"{len(b['within_2pct_of_best_tuned'])} -> {len(e['within_2pct_of_best_tuned'])} of 9")
    if label in ROWS:
      print(f"  extended: AdamW {', '.join(e['within_2pct_of_tuned_adamw'])}")
      print(f"  extended: best  {', '.join(e['within_2pct_of_best_tuned'])}")
  with open(os.path.join(HERE, "counts.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()

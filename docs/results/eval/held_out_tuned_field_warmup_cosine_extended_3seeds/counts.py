"""Counts of held_out's nine tasks (3 seeds, warmup and cosine decay for every optimizer) against
the tuned field of this folder (grids extended) and of ../held_out_tuned_field_warmup_cosine_3seeds/
(5-point grids).

Run from the repository root after run.sh: .venv/bin/python docs/results/eval/held_out_tuned_field_warmup_cosine_extended_3seeds/counts.py

For `mnemosyne_mechanic()` (its default shape told T) and `mnemosyne()` at peak 1e-3: the tasks
where its mean final test loss is within 2 % of tuned AdamW's or below, and of the best tuned
hand-designed optimizer's (AdamW, Muon, schedule-free AdamW, Lion); writes counts.json.
"""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
EVAL = os.path.dirname(HERE)
FIELD = ("adamw_tuned", "muon_tuned", "schedule_free_adamw_tuned", "lion_tuned")
ROWS = {"mnemosyne_mechanic()": "mnemosyne_mechanic:pretrained",
        "mnemosyne() at peak 1e-3": "mnemosyne:pretrained"}


def _load(folder):
  path = os.path.join(EVAL, folder, "results.json")
  opener, path = (open, path) if os.path.exists(path) else (gzip.open, path + ".gz")
  with opener(path, "rt") as f:
    return json.load(f)


def main():
  sweeps = {"before": _load("held_out_tuned_field_warmup_cosine_3seeds"),
            "extended": _load("held_out_tuned_field_warmup_cosine_extended_3seeds")}
  test = lambda r, t, n: r["tasks"][t]["results"][n]["final_test"]
  out = {}
  for label, name in list(ROWS.items()) + [(n, n) for n in FIELD]:
    out[label] = {}
    for when, r in sweeps.items():
      near_adamw = [t for t in r["tasks"] if test(r, t, name) <= 1.02 * test(r, t, "adamw_tuned")]
      near_best = [t for t in r["tasks"]
                   if test(r, t, name) <= 1.02 * min(test(r, t, n) for n in FIELD)]
      out[label][when] = {"within_2pct_of_tuned_adamw": near_adamw,
                          "within_2pct_of_best_tuned": near_best}
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

"""The 3-seed learning-rate picks of Muon, schedule-free AdamW and Lion on MiniLM prompt tuning.

Run from the repository root:
    .venv/bin/python docs/results/eval/minilm_prompt_field_3seeds/pick.py > docs/results/eval/minilm_prompt_field_3seeds/pick.txt

Reads NAME.json beside this file (``run.py NAME``'s runs) for each NAME that has run; per
optimizer prints the rates (mean validation / test loss over the seeds each has) and the pick,
``evaluation.select_learning_rate`` on the mean validation loss of seeds 0-2 among the rates every
seed ran (``../minilm_finetune_tuned_3seeds/pick.py``'s ``pick_on_three_seeds``), and writes
picks.json: per optimizer the pick, its test loss per seed and its runs' training curves.  An
optimizer without a rate run on all three seeds has its runs printed and no pick.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "minilm_finetune_tuned_3seeds"))
import pick as finetune_pick  # pylint: disable=g-import-not-at-top,wrong-import-position

NAMES = ("muon_tuned", "schedule_free_adamw_tuned", "lion_tuned")


def main():
  out = {}
  for name in NAMES:
    path = os.path.join(HERE, f"{name}.json")
    if not os.path.exists(path):
      continue
    with open(path) as f:
      records = json.load(f)
    grid = finetune_pick.add_records({}, records)
    if not any(sorted(seeds) == [0, 1, 2] for seeds in grid.values()):
      print(f"{name}, MiniLM prompt tuning: no rate has run on seeds 0-2 yet (run.py {name} goes on)")
      for lr, seeds in sorted(grid.items()):
        print(f"  lr {lr:.3g}  seeds {sorted(seeds)}  valid {seeds[min(seeds)][0]:.4f}  "
              f"test {seeds[min(seeds)][1]:.4f}")
      continue
    entry = finetune_pick.pick_on_three_seeds(f"{name}, MiniLM prompt tuning", grid)
    chosen = {r["seed"]: r for r in records if r["lr"] == entry["chosen_lr"]}
    entry["train_curves"] = [chosen[s]["train_curve"] for s in (0, 1, 2)]
    out[name] = entry
  with open(os.path.join(HERE, "picks.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()

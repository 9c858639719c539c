"""The 3-seed learning-rate picks of Muon, schedule-free AdamW and Lion on MiniLM prompt tuning.

Run from the repository root:
    .venv/bin/python docs/results/eval/minilm_prompt_field_3seeds/pick.py > docs/results/eval/minilm_prompt_field_3seeds/pick.txt

Reads NAME.json beside this file (``run.py NAME``'s runs) for each NAME that has run; per
optimizer prints the rates (mean validation / test loss over the seeds each has) and the pick,
``evaluation.select_learning_rate`` on the mean validation loss of seeds 0-2 among the rates every
seed ran, and writes picks.json: per optimizer the pick, its test loss per seed and its runs'
training curves (``../minilm_finetune_tuned_3seeds/pick.field_picks``).  An optimizer whose rule
still needs runs (``../minilm_finetune_runs.rule_pick``) has its runs printed and no pick.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "minilm_finetune_tuned_3seeds"))
import pick as finetune_pick  # pylint: disable=g-import-not-at-top,wrong-import-position

if __name__ == "__main__":
  finetune_pick.field_picks(HERE, "MiniLM prompt tuning")

"""The 3-seed learning-rate picks of Muon, schedule-free AdamW and Lion on MiniLM fine-tuning.

Run from the repository root:
    .venv/bin/python docs/results/eval/minilm_finetune_field_3seeds/pick.py > docs/results/eval/minilm_finetune_field_3seeds/pick.txt

As ``../minilm_prompt_field_3seeds/pick.py`` (``../minilm_finetune_tuned_3seeds/pick.field_picks``)
on the runs of ``run.py NAME`` beside this file: per optimizer the rates, the pick on the mean
validation loss of seeds 0-2, and picks.json.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "minilm_finetune_tuned_3seeds"))
import pick as finetune_pick  # pylint: disable=g-import-not-at-top,wrong-import-position

if __name__ == "__main__":
  finetune_pick.field_picks(HERE, "MiniLM fine-tuning")

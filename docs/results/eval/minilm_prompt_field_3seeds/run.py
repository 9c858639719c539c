"""Muon, schedule-free AdamW or Lion with its learning rate tuned on held_out's MiniLM prompt
tuning (``minilm_prompt_austen``, 300 steps, constant rate), picked on seeds 0-2.

    taskset -c CORE .venv/bin/python docs/results/eval/minilm_prompt_field_3seeds/run.py NAME

NAME: ``muon_tuned``, ``schedule_free_adamw_tuned`` or ``lion_tuned``.  The rule is
``../minilm_finetune_runs.tune_on_three_seeds``: seed 0 over the optimizer's grid, extended
10^0.5 at a time while its best is at an end; seeds 1-2 at seed 0's best rate and its two
neighbours; the pick on the mean validation loss of seeds 0-2, extended while at an end.  Every
run is ``evaluation.run_one`` at ``hyper_at(lr)``, as ``run_tuned`` runs a grid point; the records
go to NAME.json beside this file after every run, and a second invocation runs only the
seed-rate pairs NAME.json lacks.  ``pick.py`` prints the rates and writes ``picks.json``.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import minilm_finetune_runs  # pylint: disable=g-import-not-at-top,wrong-import-position

if __name__ == "__main__":
  minilm_finetune_runs.field_main("minilm_prompt_austen", HERE)

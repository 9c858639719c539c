#!/bin/bash
# The pretrained "orthogonal" Mnemosyne (mnemosyne(name="orthogonal")) on held_out's two MiniLM
# tasks, seed 0, constant learning rate 1e-3, on core CORE (about 25 minutes, Adam's runs
# included). The pretrained "plain" on the same tasks and seeds: ../held_out_v2_coordinate_cap_minilm_3seeds/.
# Usage: bash docs/results/eval/held_out_orthogonal_minilm/run.sh CORE
cd "$(dirname "$0")/../../../.."
taskset -c "${1:-1}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne:pretrained/orthogonal --seeds 1 \
  --tasks minilm_finetune_austen,minilm_prompt_austen --out docs/results/eval/held_out_orthogonal_minilm

#!/bin/bash
# The pretrained "orthogonal" Mnemosyne (mnemosyne(), the default) on held_out's two MiniLM tasks,
# 3 seeds, constant learning rate 1e-3, one task per core (about 40 minutes each, Adam's runs
# included): "bash run.sh finetune CORE" and "bash run.sh prompt CORE", then "bash run.sh merge",
# which merges both with the pretrained "plain" (../held_out_v2_coordinate_cap_minilm_3seeds/) and
# AdamW (../held_out_v2_wd_minilm_3seeds/) on the same tasks and seeds.
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_orthogonal_minilm_3seeds
case "$1" in
  finetune|prompt)
    mkdir -p runs
    taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne:pretrained/orthogonal \
      --seeds 3 --tasks "minilm_$1_austen" --out "runs/eval_orthogonal_minilm_$1" ;;
  merge)
    .venv/bin/mnemosyne-eval --merge runs/eval_orthogonal_minilm_finetune runs/eval_orthogonal_minilm_prompt \
      docs/results/eval/held_out_v2_coordinate_cap_minilm_3seeds docs/results/eval/held_out_v2_wd_minilm_3seeds \
      --out $out ;;
  *) echo "usage: bash $out/run.sh finetune|prompt CORE, then bash $out/run.sh merge"; exit 1 ;;
esac

#!/bin/bash
# mnemosyne_init_relative:pretrained (the shipped default with init_scale_reference=0.02, learning
# rate 1e-3 constant) on held_out's two MiniLM tasks, 3 seeds, one task per core (about 40 minutes
# each, Adam's runs included): "bash run.sh finetune CORE" and "bash run.sh prompt CORE", then
# "bash run.sh merge", which merges both with the default, "plain" and AdamW on the same tasks and
# seeds (../held_out_orthogonal_minilm_3seeds/).
cd "$(dirname "$0")/../../../.."
out=docs/results/eval/held_out_init_relative_minilm_3seeds
case "$1" in
  finetune|prompt)
    mkdir -p runs
    taskset -c "${2:-0}" .venv/bin/mnemosyne-eval --suite held_out --optimizers mnemosyne_init_relative:pretrained \
      --seeds 3 --tasks "minilm_$1_austen" --out "runs/eval_init_relative_minilm_$1" ;;
  merge)
    .venv/bin/mnemosyne-eval --merge runs/eval_init_relative_minilm_finetune runs/eval_init_relative_minilm_prompt \
      docs/results/eval/held_out_orthogonal_minilm_3seeds --out $out ;;
  *) echo "usage: bash $out/run.sh finetune|prompt CORE, then bash $out/run.sh merge"; exit 1 ;;
esac

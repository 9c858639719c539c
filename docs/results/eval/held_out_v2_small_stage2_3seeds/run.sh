#!/bin/bash
# held_out's nine tasks outside MiniLM at 3 seeds for learned optimizers after 1,000 equal outer
# steps of meta_train/v2_small.gin (../../meta_training/v2_small_stage2/): seeds 1 and 2 here, seed 0
# from ../held_out_v2_small_stage2/ (the same optimizers, tasks, settings and batches; a run depends
# on its seed only).  Each optimizer with its selected theta_best.msgpack and config.gin, as
# meta-trained (constant learning rate 1e-3, no weight decay), one core per invocation:
#   bash docs/results/eval/held_out_v2_small_stage2_3seeds/run.sh CORE [--tasks T,...] NAME...
# (NAME: orthogonal, celo2_style, lstm, lstm_features, mnemosyne, adafac, rnn, orthogonal_gain,
# orthogonal_gain_long) evaluates seeds 1-2 into runs/eval_v2_small_stage2_seeds12/NAME (with
# --tasks, e.g. minilm_prompt_austen, into .../NAME+T,...);
#   bash docs/results/eval/held_out_v2_small_stage2_3seeds/run.sh merge NAME...
# merges those NAMEs' seeds 1-2, joins them with seed 0 and merges the result with the shipped
# default's 3-seed runs (../held_out_orthogonal_3seeds/ and ../held_out_orthogonal_minilm_3seeds/:
# mnemosyne() as shipped, "plain", AdamW) into this folder.
cd "$(dirname "$0")/../../../.."
action=$1; shift
source docs/results/eval/held_out_v2_small_equal_steps/common.sh
mt=docs/results/meta_training/v2_small_stage2
runs=runs/eval_v2_small_stage2_seeds12
out=docs/results/eval/held_out_v2_small_stage2_3seeds
suffix=
if [ "$1" = --tasks ]; then tasks=$2; suffix=+$2; shift 2; fi
if [ "$action" = merge ]; then
  dirs=()
  for name in "$@"; do
    for d in "$runs/$name" "$runs/${name}"+*; do [ -f "$d/results.json" ] && dirs+=("$d"); done
  done
  .venv/bin/mnemosyne-eval --merge "${dirs[@]}" --out "$runs/merged" > /dev/null || exit 1
  .venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_v2_small_stage2 "$runs/merged" \
    --join_seeds --out "$runs/joined" > /dev/null || exit 1
  exec .venv/bin/mnemosyne-eval --merge docs/results/eval/held_out_orthogonal_3seeds \
    docs/results/eval/held_out_orthogonal_minilm_3seeds "$runs/joined" --out "$out"
fi
mkdir -p "$runs"
for name in "$@"; do
  echo "== eval $name$suffix seeds 1-2 $(date -u +%T)"
  taskset -c "$action" .venv/bin/mnemosyne-eval --suite held_out --seeds 2 --first_seed 1 \
    --tasks $tasks --optimizers ${kind[$name]}:$mt/$name --out "$runs/$name$suffix" \
    > "$runs/$name$suffix.log" 2>&1
  echo "== eval $name$suffix seeds 1-2 done rc $? $(date -u +%T)"
done

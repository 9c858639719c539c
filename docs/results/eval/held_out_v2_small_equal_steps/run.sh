#!/bin/bash
# The learned optimizers meta-trained on meta_train/v2_small.gin (../../meta_training/v2_small/run.sh),
# each with the selected theta_best.msgpack and config.gin of its stage K run, on held_out's nine
# tasks outside MiniLM (or the held_out tasks given by --tasks, e.g. minilm_prompt_austen), seed 0,
# constant learning rate (the 1e-3 they were meta-trained with, no weight decay), one core per
# invocation.  Stage 1 (500 outer steps) writes this folder, stage K >= 2 (500 K outer steps)
# ../held_out_v2_small_stage<K>/.
#   bash docs/results/eval/held_out_v2_small_equal_steps/run.sh CORE [--stage K] [--tasks T,...] NAME...
# evaluates into runs/ (NAME: mnemosyne, celo2_style, lstm, lstm_features, adafac, rnn, orthogonal,
# orthogonal_gain, orthogonal_gain_long;
# with --tasks into runs/.../NAME+T,...);
#   bash docs/results/eval/held_out_v2_small_equal_steps/run.sh merge [--stage K] NAME...
# merges, in this order, stage K-1's folder (K >= 2), stage K's committed results (which keep the
# names evaluated before) and the runs of the NAMEs just evaluated (with and without --tasks) into
# stage K's folder.
cd "$(dirname "$0")/../../../.."
eval_folder() { if [ "$1" = 1 ]; then echo held_out_v2_small_equal_steps; else echo "held_out_v2_small_stage$1"; fi; }
meta_folder() { if [ "$1" = 1 ]; then echo v2_small; else echo "v2_small_stage$1"; fi; }
action=$1; shift
stage=1
if [ "$1" = --stage ]; then stage=$2; shift 2; fi
source docs/results/eval/held_out_v2_small_equal_steps/common.sh
suffix=
if [ "$1" = --tasks ]; then tasks=$2; suffix=+$2; shift 2; fi
out=docs/results/eval/$(eval_folder "$stage")
runs=runs/eval_$(meta_folder "$stage")
if [ "$action" = merge ]; then
  dirs=()
  [ "$stage" != 1 ] && dirs+=(docs/results/eval/$(eval_folder $((stage - 1))))
  [ -f "$out/results.json.gz" ] && dirs+=("$out")
  for name in "$@"; do
    for d in "$runs/$name" "$runs/${name}"+*; do [ -f "$d/results.json" ] && dirs+=("$d"); done
  done
  .venv/bin/mnemosyne-eval --merge "${dirs[@]}" --out "$out"
  exit
fi
mt=docs/results/meta_training/$(meta_folder "$stage")
mkdir -p "$runs"
for name in "$@"; do
  echo "== eval $name stage $stage $(date -u +%T)"
  taskset -c "$action" .venv/bin/mnemosyne-eval --suite held_out --seeds 1 --tasks $tasks \
    --optimizers ${kind[$name]}:$mt/$name --out "$runs/$name$suffix" > "${runs}_$name$suffix.log" 2>&1
  echo "== eval $name stage $stage done rc $? $(date -u +%T)"
done

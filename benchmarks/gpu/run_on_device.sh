#!/usr/bin/env bash
# Update-step overhead (benchmarks/step_overhead.py: 1024 x 1024 trees, small tensors, and the trees
# of ViT-B/16, BERT-base, GPT-2 small and the tiny held-out LM; MnemosyneLOpt() and, as
# mnemosyne_shipped, the pretrained default with its Newton-Schulz iteration, beside optax Muon) and PES
# meta-training throughput (benchmarks/run_all.py --only pes), and the Newton-Schulz iteration's two
# forms on the same trees' matrices (benchmarks/newton_schulz.py) on the GPU machine, in one command:
#
#   OUT=/some/dir bash benchmarks/gpu/run_on_device.sh
#
# Needs, in the repository root (both git-ignored, named in the device call's `carry`):
#   .whl/        learned_optimization 0.0.1, gin-config, dm-haiku, jmp wheels (pure Python);
#   .benchdata/  fashion_mnist.npz (the PES family's data; without it PES falls back to 'digits').
# The device python already has jax (CUDA), flax, optax, chex, numpy, tensorboard, tabulate, tqdm,
# scikit-learn.  It has no TensorFlow: benchmarks/gpu/stub/ (import-time names only, every use
# raises) goes LAST on PYTHONPATH so learned_optimization and flax.metrics.tensorboard import.
# See benchmarks/gpu/README.md for the exact device call.
#
# Environment: OUT (required: results folder), PYTHON [python3], BENCH_QUICK=1 (tiny smoke test:
# 1M params, 2 rounds, one tiny PES outer step), BENCH_SITE [/tmp/site] (where the wheels go),
# BENCH_TIMEOUT_UPDATE [165] and BENCH_TIMEOUT_PES [180] (seconds for each part), BENCH_TREES
# (comma-separated step_overhead.MODEL_TREES for part 4) and BENCH_TIMEOUT_TREE [40] (each tree).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
PY="${PYTHON:-python3}"
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT"
SITE="${BENCH_SITE:-/tmp/site}"
PROJ="${BENCH_PROJ:-/tmp/mnemosyne_proj}"
export PYTHONUNBUFFERED=1

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  PARAMS=1M; ROUNDS=2; MAXSTEPS=3; TIMEOUT_UPDATE=600; TIMEOUT_PES=900
  PES_ARGS=(--pes_rounds 1 --pes_steps 1 --pes_num_tasks 1 --pes_trunc_length 10)
else
  # step_overhead's and run_all's own defaults.  On the H200 an update takes about a millisecond,
  # so the 15 rounds of up to 25 timed updates per optimizer cost seconds; compiling (15 update
  # programs, then 3 PES meta-training steps) dominates.  The timeouts keep the whole run under
  # 6 minutes even if compiling is slow (a part cut short still leaves its log lines).
  PARAMS=1M,4M,16M; ROUNDS=15; MAXSTEPS=25; TIMEOUT_UPDATE=165; TIMEOUT_PES=180
  PES_ARGS=(--pes_rounds 3 --pes_steps 2)
fi
TIMEOUT_UPDATE="${BENCH_TIMEOUT_UPDATE:-$TIMEOUT_UPDATE}"; TIMEOUT_PES="${BENCH_TIMEOUT_PES:-$TIMEOUT_PES}"
# Model trees (step_overhead.MODEL_TREES; shapes only, no data): the quick run takes the tiny LM.
if [ "${BENCH_QUICK:-0}" = 1 ]; then TREES=transformer_lm_tiny; else
  TREES=transformer_lm_tiny,vit_b16,bert_base,gpt2_small; fi
TREES="${BENCH_TREES:-$TREES}"; TIMEOUT_TREE="${BENCH_TIMEOUT_TREE:-40}"

setup() {
  # The missing pure-Python packages, from the carried wheels.
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    .whl/*.whl || { echo "wheel install into $SITE failed"; return 1; }
  # The project laid out as installed (setup.cfg's package_dir: tasks/ -> mnemosyne_lopt.tasks
  # etc.), by copying, so nothing is built on the device.
  rm -rf "$PROJ" && mkdir -p "$PROJ" && cp -r mnemosyne_lopt "$PROJ/" \
    && cp -r tasks "$PROJ/mnemosyne_lopt/tasks" \
    && cp -r outer_trainers "$PROJ/mnemosyne_lopt/outer_trainers" \
    && cp -r gin_configs "$PROJ/mnemosyne_lopt/gin_configs" || { echo "copying the package failed"; return 1; }
  export PYTHONPATH="$PROJ:$SITE${PYTHONPATH:+:$PYTHONPATH}:$ROOT/benchmarks/gpu/stub"
  if [ -f .benchdata/fashion_mnist.npz ]; then
    export MNEMOSYNE_DATA_DIR="$ROOT/.benchdata"; PES_FAMILY=fashion_mnist:8
  else
    echo "NOTE: .benchdata/fashion_mnist.npz not carried: PES uses the 'digits' family instead"
    PES_FAMILY=digits
  fi
}

main() {
  local rc=0
  echo "== $(date -u '+%F %T') UTC, $(uname -m), $(nproc) CPU cores"
  echo "== nvidia-smi"
  nvidia-smi || echo "(nvidia-smi failed)"
  setup || return 1
  echo "== python and packages"
  "$PY" -P - <<'EOF' || return 1
import importlib.metadata as md, platform, sys
print("python", platform.python_version(), sys.executable)
for name in ("jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda13-pjrt", "flax", "optax", "chex",
             "numpy", "tensorboard", "learned_optimization", "dm-haiku", "gin-config"):
  try:
    print(f"  {name} {md.version(name)}")
  except md.PackageNotFoundError:
    print(f"  {name} (not installed)")
import jax
print("jax.devices():", jax.devices())
import mnemosyne_lopt, learned_optimization, tensorflow
print("mnemosyne_lopt from", mnemosyne_lopt.__file__)
print("learned_optimization from", learned_optimization.__file__)
print("tensorflow from", tensorflow.__file__,
      "(device-only import stub)" if getattr(tensorflow, "IS_DEVICE_STUB", False) else "(REAL)")
EOF
  echo "== 1. step_overhead: --params $PARAMS, $ROUNDS rounds (timeout $TIMEOUT_UPDATE s)"
  timeout "$TIMEOUT_UPDATE" "$PY" benchmarks/step_overhead.py --params "$PARAMS" \
    --optimizers adam,mnemosyne,mnemosyne_shipped,muon,mnemosyne_bf16,adafac_mlp,rnn_mlp --rounds "$ROUNDS" \
    --max_steps_per_round "$MAXSTEPS" --json "$OUT/step_overhead_gpu.json" \
    | tee "$OUT/step_overhead_gpu.md" || { rc=1; echo "step_overhead FAILED"; }
  echo "== 2. PES meta-training throughput: run_all.py --only pes, family $PES_FAMILY ${PES_ARGS[*]} (timeout $TIMEOUT_PES s)"
  timeout "$TIMEOUT_PES" "$PY" benchmarks/run_all.py --only pes --out_prefix "$OUT/run_all_pes_gpu" \
    --pes_family "$PES_FAMILY" "${PES_ARGS[@]}" || { rc=1; echo "PES FAILED"; }
  if [ -f "$OUT/run_all_pes_gpu.partial.json" ]; then
    "$PY" - "$OUT/run_all_pes_gpu.partial.json" <<'EOF'
import json, sys
pes = json.load(open(sys.argv[1]))["pes"]
print("PES settings:", pes["settings"])
for name in ("mnemosyne", "adafac_mlp", "rnn_mlp"):
  r = pes[name]
  print(f"  {name:10s} {r['inner_steps_per_s']:9.0f} inner steps/s (outer step {r['outer_step_s_median']:.3f} s, "
        f"{r['outer_steps_timed']} timed), Mnemosyne paired speed-up {r['paired_speedup_of_mnemosyne']:.2f}x, "
        f"final meta-loss {r['final_meta_loss']:.3f}, finite {r['meta_losses_finite']}")
EOF
  fi
  if [ "${BENCH_QUICK:-0}" != 1 ]; then
    echo "== 3. step_overhead on many small tensors: 64 x 256x256 (4M), adam vs mnemosyne (timeout 90 s)"
    timeout 90 "$PY" benchmarks/step_overhead.py --params 4M --tensor_shape 256,256 \
      --optimizers adam,mnemosyne --rounds "$ROUNDS" --max_steps_per_round "$MAXSTEPS" \
      --json "$OUT/step_overhead_gpu_256.json" | tee "$OUT/step_overhead_gpu_256.md" \
      || { rc=1; echo "step_overhead 256x256 FAILED"; }
  fi
  echo "== 4. step_overhead on the trees of the models people train: ${TREES} (timeout ${TIMEOUT_TREE} s each)"
  for tree in ${TREES//,/ }; do
    timeout "$TIMEOUT_TREE" "$PY" benchmarks/step_overhead.py --tree "$tree" \
      --optimizers adam,mnemosyne,mnemosyne_shipped,muon --rounds "$ROUNDS" --max_steps_per_round "$MAXSTEPS" \
      --json "$OUT/step_overhead_gpu_tree_$tree.json" | tee "$OUT/step_overhead_gpu_tree_$tree.md" \
      || { rc=1; echo "step_overhead --tree $tree FAILED"; }
  done
  echo "== 5. Newton-Schulz, direct form against the shipped (Gram for wide matrices), tiny LM and GPT-2 trees (timeout 45 s)"
  timeout 45 "$PY" benchmarks/newton_schulz.py --trees transformer_lm_tiny,gpt2_small --rounds 5 \
    --error_max_entries 5000000 \
    --json "$OUT/newton_schulz_gpu.json" | tee "$OUT/newton_schulz_gpu.md" \
    || { rc=1; echo "newton_schulz FAILED"; }
  echo "== done in ${SECONDS} s, rc $rc"
  return $rc
}

main 2>&1 | tee "$OUT/log.txt"

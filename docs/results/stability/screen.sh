# Sourced by the screens.sh scripts of the folders here (run from the repository's root):
#   screen FOLDER SEEDS NAME LR OPTIMIZERS [mnemosyne-stability flags...]
# runs mnemosyne-stability on reparam_100 (3,000 steps) unless FOLDER/NAME_lrLR.json exists
# (kept: delete it to re-run) and prints its per-optimizer lines.
screen() {
  local folder=$1 seeds=$2 name=$3 lr=$4 opts=$5; shift 5
  if [ -e "$folder/${name}_lr${lr}.json" ]; then return; fi
  echo "== $name lr $lr"
  .venv/bin/mnemosyne-stability --optimizers "$opts" --problems reparam_100 --steps 3000 --seeds "$seeds" \
    --learning_rate "$lr" "$@" --json "$folder/${name}_lr${lr}.json" | grep "^\[stability\]"
}

# Sourced by the screens.sh scripts of the folders here (run from the repository's root):
#   suite FOLDER OPTIMIZERS
# runs mnemosyne-stability's whole suite (8 problems, 600 and 3,000 steps, 3 seeds, 1e-3) for the
# optimizers unless FOLDER/suite.json exists (kept: delete it to re-run), plot FOLDER/suite.png;
#   screen FOLDER SEEDS NAME LR OPTIMIZERS [mnemosyne-stability flags...]
# runs mnemosyne-stability on reparam_100 (3,000 steps) unless FOLDER/NAME_lrLR.json exists
# (kept: delete it to re-run) and prints its per-optimizer lines.  Both run mnemosyne / mnemosyne_T
# as the pretrained "plain" (--pretrained plain), with whatever flags follow.
screen() {
  local folder=$1 seeds=$2 name=$3 lr=$4 opts=$5; shift 5
  if [ -e "$folder/${name}_lr${lr}.json" ]; then return; fi
  echo "== $name lr $lr"
  .venv/bin/mnemosyne-stability --optimizers "$opts" --problems reparam_100 --steps 3000 --seeds "$seeds" \
    --learning_rate "$lr" --pretrained plain "$@" --json "$folder/${name}_lr${lr}.json" | grep "^\[stability\]"
}
suite() {
  local folder=$1 opts=$2
  if [ -e "$folder/suite.json" ]; then return; fi
  .venv/bin/mnemosyne-stability --optimizers "$opts" --pretrained plain --json "$folder/suite.json" \
    --plot "$folder/suite.png"
}

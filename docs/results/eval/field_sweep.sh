# Sourced by the run.sh scripts that evaluate optimizers one at a time, each into a folder of its
# own, then merge those folders with a committed one:
#   field_sweep CORE PREFIX NAME...         each NAME by `mnemosyne-eval "${EVAL_ARGS[@]}"
#                                           --optimizers NAME` on core CORE into PREFIX<NAME>
#                                           (its output in PREFIX<NAME>.log)
#   field_sweep merge PREFIX BASE OUT NAME...  BASE and every PREFIX<NAME> merged into OUT
# Run from the repository root; EVAL_ARGS (an array) is set by the caller.
field_sweep() {
  local action=$1 prefix=$2; shift 2
  if [ "$action" = merge ]; then
    local base=$1 out=$2; shift 2
    local dirs=() name
    for name in "$@"; do dirs+=("$prefix$name"); done
    .venv/bin/mnemosyne-eval --merge "$base" "${dirs[@]}" --out "$out"
    return
  fi
  mkdir -p "$(dirname "${prefix}x")"
  local name
  for name in "$@"; do
    echo "== eval $prefix$name $(date -u +%T)"
    taskset -c "$action" .venv/bin/mnemosyne-eval "${EVAL_ARGS[@]}" --optimizers "$name" \
      --out "$prefix$name" > "$prefix$name.log" 2>&1
    echo "== eval $prefix$name done rc $? $(date -u +%T)"
  done
}

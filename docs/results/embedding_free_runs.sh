# Sourced by session 25's budgets.sh scripts (40k, 100k, end to end).
# free_runs DIR RATE...: for every finished embedding-free run under DIR (free-R-sK or
# free-R-Eep-sK, seeds 0-2), appends `--run "embedding-free (R)" RUN` to the caller's args, then
# `--pick "embedding-free, rate per budget"` over the rates that have runs, when there are two.
free_runs() {
  local N=$1 R L K D F picks=()
  shift
  for R in "$@"; do
    L=$(python -c "print(float('$R'))")
    F=
    for K in 0 1 2; do
      for D in "$N/free-$R-s$K" "$N"/free-"$R"-*ep-s$K; do
        D=$D/runs/embedding-free/lr=$L/seed=$K
        [ -f "$D/result.json" ] && args+=(--run "embedding-free ($R)" "$D") && F=1
      done
    done
    [ -n "$F" ] && picks+=("embedding-free ($R)")
  done
  [ ${#picks[@]} -ge 2 ] && args+=(--pick "embedding-free, rate per budget" "${picks[@]}")
  return 0
}

#!/bin/bash
# Session 20: embedding-scale-cap (the default since session 19; its cap of 15 chosen on frozen 40k,
# not re-tuned) on the full set, frozen 96 px, 10 epochs, at the two rates the previous default
# picked there (1e-3 for 1-3 epochs, 3e-4 for 5-10), beside session 18's rows (merged by their
# per-seed picks from its budgets.json; their run directories are gone). Each run is
# `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96 --epochs 10
# --batch-size 256 --lrs R --extend-grid 0 --seeds 3 --only-seed K --threads 1
# --heads embedding-scale-cap --baseline embedding-scale-cap --out runs/s20-full/cap15-R[-sK]`
# (two lanes, one thread each, after `python benchmarks/iconify_feature_cache.py --worker 0 --of 1`).
# A cap of 25 at 1e-3 (seed 0, `--heads "embedding-scale-cap[max_scale=25]"`, --out
# runs/s20-full/cap25-1e-3) tests whether the full set wants a higher temperature; it is not in
# the default's pick.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-frozen-full-s18/budgets.json
N=runs/s20-full
RUNS=()
for R in 1e-3 3e-4; do
  LR=$(python -c "print(float('$R'))")
  for K in 0 1 2; do
    D=$N/cap15-$R$([ $K = 0 ] || echo "-s$K")/runs/embedding-scale-cap/lr=$LR/seed=$K
    [ -f "$D/metrics.jsonl" ] && RUNS+=(--run "cap 15 ($R)" "$D")
  done
done
D=$N/cap25-1e-3/runs/embedding-scale-cap_max_scale=25/lr=0.001/seed=0
[ -f "$D/metrics.jsonl" ] && RUNS+=(--run "cap 25 (1e-3), seed 0" "$D")
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" --merge "sigmoid-prior (1e-3)" $J \
  --merge "embedding-slow-scale (previous default), rate per budget" $J "embedding-slow-scale, rate per budget" \
  "${RUNS[@]}" \
  --pick "embedding-scale-cap, rate per budget" "cap 15 (1e-3)" "cap 15 (3e-4)" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-full-s20/budgets.json

#!/bin/bash
# Session 28: embedding-free-unit on the nested 100k subset (96 px, grouped validation), 3 seeds
# at 1e-3 (the rate the default and embedding-free picked at every budget there) and 3 seeds at
# 3e-4 (its seed 0 at 1e-3 fell back after 3 epochs), 10 epochs at a constant rate, the rate
# picked per budget on validation; beside session 17's baseline, session 19's default and session 25's
# embedding-free (their budgets.json, merged by their per-seed picks). Each run is
# `labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=100000
# --image-size 96 --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs R
# --only-seed K --heads embedding-free-unit --baseline embedding-free-unit
# --out runs/s28-100k/freeunit-R-sK` (seed 0 at 1e-3 alone with --threads 2, after it built the
# feature cache; the others in lanes with one thread each).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-100k-s28
args=(--baseline "sigmoid-prior (1e-3)" --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-100k-s17/budgets.json
      --merge "embedding-scale-cap (the default), rate per budget" docs/results/iconify-frozen-100k-s19/budgets.json
      "embedding-scale-cap, rate per budget"
      --merge "embedding-free, rate per budget" docs/results/iconify-frozen-100k-s25/budgets.json)
picks=()
for R in 1e-3 3e-4; do
  L=$(python -c "print(float('$R'))")
  for K in 0 1 2; do
    D=runs/s28-100k/freeunit-$R-s$K/runs/embedding-free-unit/lr=$L/seed=$K
    [ -f "$D/result.json" ] && args+=(--run "embedding-free-unit ($R)" "$D") && F=$R
  done
  [ "$F" = "$R" ] && picks+=("embedding-free-unit ($R)")
done
[ ${#picks[@]} -ge 2 ] && args+=(--pick "embedding-free-unit, rate per budget" "${picks[@]}")
python benchmarks/run_budgets.py "${args[@]}" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json $O/budgets.json | tee $O/budgets.md

#!/bin/bash
# Session 28: embedding-free-unit on the frozen 40k subset (96 px, grouped validation), session
# 19's protocol as for embedding-free in session 25: seed 0 over {3e-4, 1e-3, 3e-3}, seeds 1-2 at
# 1e-3 and 3e-3, 10 epochs at a constant rate, the rate picked per budget on seed 0's validation;
# beside session 18's baseline, session 19's default and session 25's embedding-free (their
# budgets.json, merged by their per-seed picks). Each run is `labelsphere compare iconify-icons
# --data-dir ../shared/data --dataset-option max_icons=40000 --image-size 96 --batch-size 256
# --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs R --only-seed K --heads
# embedding-free-unit --baseline embedding-free-unit --out runs/s28-40k/freeunit-R-sK` (three
# lanes, one thread each).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-40k-s28
args=(--baseline sigmoid-prior --merge sigmoid-prior docs/results/iconify-frozen-40k-s18/budgets.json
      --merge "embedding-scale-cap (the default), rate per budget" docs/results/iconify-frozen-40k-s19/budgets.json
      "embedding-scale-cap (cap 15), rate per budget"
      --merge "embedding-free, rate per budget" docs/results/iconify-frozen-40k-s25/budgets.json)
picks=()
for R in 1e-3 3e-3 3e-4; do
  L=$(python -c "print(float('$R'))")
  F=
  for K in 0 1 2; do
    D=runs/s28-40k/freeunit-$R-s$K/runs/embedding-free-unit/lr=$L/seed=$K
    [ -f "$D/result.json" ] && args+=(--run "embedding-free-unit ($R)" "$D") && F=1
  done
  [ -n "$F" ] && picks+=("embedding-free-unit ($R)")
done
[ ${#picks[@]} -ge 2 ] && args+=(--pick "embedding-free-unit, rate per budget" "${picks[@]}")
python benchmarks/run_budgets.py "${args[@]}" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets.json | tee $O/budgets.md

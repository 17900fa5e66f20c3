#!/bin/bash
# Session 28 end to end (PixelCNN from scratch, 32 px, the grouped 20k subset): embedding-free-unit
# at 3e-3 (the default's 10-epoch pick end to end) and, since 3e-3 was then picked at 10 epochs,
# the top of that grid, 9e-3, seeds 0-2 each, 10 epochs, so its rate is picked per budget on seed
# 0's validation among session 26's 1e-3 runs (3 seeds, merged from its budgets.json) and these;
# beside session 19's baseline and default and session 25's embedding-free (merged). Each run is `labelsphere compare iconify-icons --data-dir ../shared/data
# --dataset-option max_icons=20000 --render-size 32 --batch-size 128 --hidden 256 --extend-grid 0
# --threads 1 --epochs 10 --lrs R --seeds 3 --only-seed K --heads embedding-free-unit
# --baseline embedding-free-unit --out runs/s28-e2e/freeunit-R-sK` (three lanes, one thread each).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-e2e-20k-s28
J=docs/results/iconify-e2e-20k-s19/budgets.json
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-scale-cap (the default), rate per budget" $J "embedding-scale-cap, rate per budget"
      --merge "embedding-free, rate per budget" docs/results/iconify-e2e-20k-s25/budgets.json
      --merge "embedding-free-unit (1e-3)" docs/results/iconify-e2e-20k-s26/budgets.json)
picks=("embedding-free-unit (1e-3)")
for R in 3e-3 9e-3; do
  L=$(python -c "print(float('$R'))")
  F=
  for K in 0 1 2; do
    D=runs/s28-e2e/freeunit-$R-s$K/runs/embedding-free-unit/lr=$L/seed=$K
    [ -f "$D/result.json" ] && args+=(--run "embedding-free-unit ($R)" "$D") && F=1
  done
  [ -n "$F" ] && picks+=("embedding-free-unit ($R)")
done
python benchmarks/run_budgets.py "${args[@]}" --pick "embedding-free-unit, rate per budget" "${picks[@]}" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets.json | tee $O/budgets.md

#!/bin/bash
# Session 31: `embedding-two-way` (embedding-scale-cap[sample_softmax=1]) on the nested 100k subset
# (96 px, grouped validation), 3 seeds at 1e-3 (the rate the default picked at 1-5 epochs there),
# 10 epochs, beside session 17's baseline and session 19's default at 1e-3 and per budget (their
# budgets.json). Each run is `labelsphere compare iconify-icons --data-dir ../shared/data
# --dataset-option max_icons=100000 --image-size 96 --batch-size 256 --extend-grid 0 --seeds 3
# --threads T --epochs 10 --lrs 1e-3 --only-seed K --heads embedding-two-way --baseline
# embedding-two-way --out runs/s31-100k/two-way-1e-3-sK` (seed 0 alone with two threads, seeds
# 1-2 then side by side with one each).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-100k-s31
J=docs/results/iconify-frozen-100k-s19/budgets.json
args=(--baseline "sigmoid-prior (1e-3)" --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-100k-s17/budgets.json
      --merge "embedding-scale-cap (the default, 1e-3)" $J "cap 15 (1e-3)"
      --merge "embedding-scale-cap (the default), rate per budget" $J "embedding-scale-cap, rate per budget")
for K in 0 1 2; do
  D=runs/s31-100k/two-way-1e-3-s$K/runs/embedding-two-way/lr=0.001/seed=$K
  [ -f "$D/result.json" ] && args+=(--run "embedding-two-way (1e-3)" "$D")
done
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json $O/budgets.json | tee $O/budgets.md

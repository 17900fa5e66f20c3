#!/bin/bash
# Session 19: embedding-scale-cap (the cap of 15 chosen on frozen 40k, not re-tuned) on the nested
# 100k subset: seed 0 over {1e-3, 3e-3} (the rates the default picked there), then seeds 1-2 at
# 1e-3, seed 0's pick at every budget (--only-seed K --out runs/s19-100k/cap15-1e-3-sK), beside session
# 17's 3-seed rows (docs/results/iconify-frozen-100k-s17/budgets.json, merged by their per-seed
# picks). Each run is `labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option
# max_icons=100000 --image-size 96 --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs 10
# --lrs R --only-seed 0 --heads embedding-scale-cap --baseline embedding-scale-cap --out runs/s19-100k/cap15-R`.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-frozen-100k-s17/budgets.json
N=runs/s19-100k
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" --merge "sigmoid-prior (1e-3)" $J \
  --merge "embedding-slow-scale (the default), rate per budget" $J "embedding-slow-scale, rate per budget" \
  --run "cap 15 (1e-3)" $N/cap15-1e-3/runs/embedding-scale-cap/lr=0.001/seed=0 \
  --run "cap 15 (1e-3)" $N/cap15-1e-3-s1/runs/embedding-scale-cap/lr=0.001/seed=1 \
  --run "cap 15 (1e-3)" $N/cap15-1e-3-s2/runs/embedding-scale-cap/lr=0.001/seed=2 \
  --run "cap 15 (3e-3), seed 0" $N/cap15-3e-3/runs/embedding-scale-cap/lr=0.003/seed=0 \
  --pick "embedding-scale-cap, rate per budget" "cap 15 (1e-3)" "cap 15 (3e-3), seed 0" \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-100k-s19/budgets.json

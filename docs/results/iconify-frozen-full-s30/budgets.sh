#!/bin/bash
# Session 30 on the full set (frozen 96 px): the default's rate edges and embedding-free-unit's
# second seed at 3e-4.
# - embedding-scale-cap picked 1e-3 at 1-5 epochs and 3e-4 at 10 from {3e-4, 1e-3} (sessions
#   20-22), each an edge of that grid: seed 0 at 3e-3 (5 epochs, the budgets 1e-3 held) and at
#   1e-4 (10 epochs), re-picked per budget on seed 0's validation with session 20's 3 seeds at
#   1e-3 and 3e-4;
# - embedding-free-unit at 3e-4, seeds 1-2, pooled with session 29's seed 0.
# Each run is `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96
# --epochs E --batch-size 256 --lrs R --extend-grid 0 --seeds 3 --only-seed K --threads 1
# --heads H --baseline H --out runs/s30-full/H-R-sK` (runs/s30/lane.sh), in lanes beside
# other work, one thread each, with a copy of src on PYTHONPATH.
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s30
S20=docs/results/iconify-frozen-full-s20/budgets.json
S29=docs/results/iconify-frozen-full-s29/budgets.json
C=runs/s30-full/embedding-scale-cap
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json \
  --merge "cap 15 (3e-4)" $S20 --merge "cap 15 (1e-3)" $S20 \
  --run "cap 15 (1e-4), seed 0" $C-1e-4-s0/runs/embedding-scale-cap/lr=0.0001/seed=0 \
  --run "cap 15 (3e-3), seed 0" $C-3e-3-s0/runs/embedding-scale-cap/lr=0.003/seed=0 \
  --pick "embedding-scale-cap (default), rate per budget" "cap 15 (1e-4), seed 0" "cap 15 (3e-4)" \
  "cap 15 (1e-3)" "cap 15 (3e-3), seed 0" \
  --merge "embedding-free-unit (1e-3)" $S29 \
  --merge "embedding-free-unit (1e-3), seed 0 to 10" $S29 \
  --merge "embedding-free-unit (3e-4)" $S29 "embedding-free-unit (3e-4), seed 0" \
  --run "embedding-free-unit (3e-4)" \
  runs/s30-full/embedding-free-unit-3e-4-s1/runs/embedding-free-unit/lr=0.0003/seed=1 \
  --run "embedding-free-unit (3e-4)" \
  runs/s30-full/embedding-free-unit-3e-4-s2/runs/embedding-free-unit/lr=0.0003/seed=2 \
  --pick "embedding-free-unit, rate per budget" "embedding-free-unit (1e-3)" \
  "embedding-free-unit (1e-3), seed 0 to 10" "embedding-free-unit (3e-4)" \
  --metrics P@1,P@5,PSP@5 --budgets 1,2,3,5,10 --json $O/budgets.json | tee $O/budgets.md

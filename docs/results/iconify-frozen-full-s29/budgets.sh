#!/bin/bash
# Session 29 on the full set (frozen 96 px): the runs session 27 lost with its machine, redone
# on a rebuilt feature cache (python benchmarks/iconify_feature_cache.py --worker 0 --of 1:
# 211,292 icons missing from the 100k subset's cache, 31 min at 112 images/s):
# - embedding-free at 3e-4 (the default's 10-epoch pick), seeds 1-2, pooled with session 26's
#   seed 0;
# - embedding-free-unit at 3e-4, seed 0 (its 1e-3 runs: 3 seeds to 3 epochs, seed 0 to 10,
#   session 26).
# Each run is `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96
# --epochs 10 --batch-size 256 --lrs 3e-4 --extend-grid 0 --seeds 3 --only-seed K --threads 1
# --heads H --baseline H --out runs/s29-full/H-3e-4-sK`, three lanes side by side, one thread
# each, with a copy of src on PYTHONPATH. The rate-per-budget rows pick, at each budget, the
# rate whose seed 0 validated best (as compare does).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s29
S26=docs/results/iconify-frozen-full-s26/budgets.json
RUNS=()
for K in 1 2; do
  RUNS+=(--run "embedding-free (3e-4)" runs/s29-full/embedding-free-3e-4-s$K/runs/embedding-free/lr=0.0003/seed=$K)
done
RUNS+=(--run "embedding-free-unit (3e-4), seed 0" \
  runs/s29-full/embedding-free-unit-3e-4-s0/runs/embedding-free-unit/lr=0.0003/seed=0)
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" \
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json \
  --merge "embedding-scale-cap (default), rate per budget" docs/results/iconify-frozen-full-s20/budgets.json \
  "embedding-scale-cap, rate per budget" \
  --merge "embedding-free (1e-3)" docs/results/iconify-frozen-full-s25/budgets.json \
  --merge "embedding-free (3e-4)" $S26 "embedding-free (3e-4), seed 0" \
  --merge "embedding-free-unit (1e-3)" $S26 \
  --merge "embedding-free-unit (1e-3), seed 0 to 10" $S26 \
  "[free_logits=true,free_lr_scale=3,free_normalize=true] (1e-3), seed 0" \
  "${RUNS[@]}" \
  --pick "embedding-free, rate per budget" "embedding-free (1e-3)" "embedding-free (3e-4)" \
  --pick "embedding-free-unit, rate per budget" "embedding-free-unit (1e-3)" \
  "embedding-free-unit (1e-3), seed 0 to 10" "embedding-free-unit (3e-4), seed 0" \
  --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} --json $O/budgets${1:+-to${1##*,}}.json | tee $O/budgets${1:+-to${1##*,}}.md

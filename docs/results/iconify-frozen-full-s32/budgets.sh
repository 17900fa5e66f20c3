#!/bin/bash
# Session 32 on the full set (frozen 96 px): hybrid[loss=softmax] at 1e-3 to 10 epochs, seed 0
# (its first full-set run past 3 epochs), beside its 3 seeds at 1-3 epochs (session 24), the
# baseline (session 18), the default and the softmax head, rate per budget (sessions 23, 30).
# The run is `labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96
# --epochs 10 --batch-size 256 --lrs 1e-3 --extend-grid 0 --seeds 3 --only-seed 0 --threads 1
# --heads "hybrid[loss=softmax]" --baseline "hybrid[loss=softmax]"
# --out "runs/s32-full/hybrid[loss=softmax]-1e-3-s0"` (runs/s32-full/lane.sh), one thread,
# beside other lanes, with a copy of src on PYTHONPATH.
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s32
args=(--baseline "sigmoid-prior (1e-3)"
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json
  --merge "embedding-scale-cap (default), rate per budget" docs/results/iconify-frozen-full-s30/budgets.json
  --merge "softmax, rate per budget" docs/results/iconify-frozen-full-s23/budgets.json
  --merge "hybrid[loss=softmax] (1e-3), 3 seeds to 3 epochs" docs/results/iconify-frozen-full-s24/budgets.json
  "hybrid[loss=softmax] (1e-3)")
D="runs/s32-full/hybrid[loss=softmax]-1e-3-s0/runs/hybrid_loss=softmax/lr=0.001/seed=0"
[ -f "$D/result.json" ] && args+=(--run "hybrid[loss=softmax] (1e-3), seed 0 to 10" "$D")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json $O/budgets.json | tee $O/budgets.md

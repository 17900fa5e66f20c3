#!/bin/bash
# Session 31 on the full set (frozen 96 px): the default with the label-to-sample softmax
# (`embedding-two-way`, i.e. embedding-scale-cap[sample_softmax=1]) at 1e-3 with 3 seeds (5 epochs)
# and at 3e-4 with seed 0 (10 epochs); embedding-free-unit[sample_softmax=1] at 1e-3, seed 0;
# embedding-paper at 1e-3, 3e-3 and 9e-3, seed 0 (its first full-set runs; 40k's picks were
# 1e-3 to 9e-3). Each run is `labelsphere compare
# iconify-icons --data-dir ../shared/data --image-size 96 --epochs E --batch-size 256 --lrs R
# --extend-grid 0 --seeds 3 --only-seed K --threads 1 --heads H --baseline H
# --out runs/s31-full/H-R-sK` (runs/s31-full/lane.sh), in lanes, one thread each, with a copy
# of src on PYTHONPATH.
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-frozen-full-s31
S20=docs/results/iconify-frozen-full-s20/budgets.json
S30=docs/results/iconify-frozen-full-s30/budgets.json
R=runs/s31-full
args=(--baseline "sigmoid-prior (1e-3)"
  --merge "sigmoid-prior (1e-3)" docs/results/iconify-frozen-full-s18/budgets.json
  --merge "embedding-scale-cap (default), rate per budget" $S30
  --merge "embedding-free-unit, rate per budget" $S30)
add() {  # add LABEL HEAD RATE: the seeds of HEAD at RATE that finished
  local D
  for D in "$R/$2-$3"-s*/runs/*/lr=*/seed=*; do
    [ -f "$D/result.json" ] && args+=(--run "$1" "$D")
  done
  return 0
}
add "embedding-two-way (1e-3)" "embedding-scale-cap[sample_softmax=1]" 1e-3
add "embedding-two-way (3e-4), seed 0" "embedding-scale-cap[sample_softmax=1]" 3e-4
add "embedding-free-unit[sample_softmax=1] (1e-3), seed 0" "embedding-free-unit[sample_softmax=1]" 1e-3
for LR in 1e-3 3e-3 9e-3; do
  add "embedding-paper ($LR), seed 0" embedding-paper $LR
done
args+=(--pick "embedding-two-way, rate per budget" "embedding-two-way (1e-3)"
       "embedding-two-way (3e-4), seed 0"
       --pick "embedding-paper, rate per budget, seed 0" "embedding-paper (1e-3), seed 0"
       "embedding-paper (3e-3), seed 0" "embedding-paper (9e-3), seed 0")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json $O/budgets.json | tee $O/budgets.md

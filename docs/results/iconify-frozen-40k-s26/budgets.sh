#!/bin/bash
# Session 26's screen on the frozen 40k subset (96 px, grouped validation): variants of the
# default, one seed (0) each, 10 epochs at a constant rate, beside the default's own seed-0 run at
# 1e-3 (the ratio in each cell) and session 18's 3-seed baseline. Each run is `labelsphere compare
# iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000 --image-size 96
# --batch-size 256 --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs R --only-seed 0
# --heads H --baseline H --out runs/s26-40k/NAME`, H as labelled, NAME as below.
cd "$(dirname "$0")/../../.."  # the repository root
N=runs/s26-40k
args=(--baseline "embedding-scale-cap (1e-3)"
      --merge "sigmoid-prior (3 seeds, rate per budget)" docs/results/iconify-frozen-40k-s18/budgets.json sigmoid-prior)
add() {  # add LABEL NAME: the run of NAME, if it finished
  local D
  for D in "$N/$2"/runs/*/lr=*/seed=0; do
    [ -f "$D/result.json" ] && args+=(--run "$1" "$D")
  done
  return 0
}
add "embedding-scale-cap (1e-3)" cap-1e-3-s0
add "embedding-free (1e-3; session 25)" ../s25-40k/free-1e-3-s0
add "[similarity=dot] (1e-3)" dot-1e-3-s0
add "embedding-label-scale (1e-3)" ls-1e-3-s0
for X in 0.1 1 3 10 30; do
  NAME=freenorm${X/0.1/}-1e-3-s0
  add "[free_logits=true,free_lr_scale=$X,free_normalize=true] (1e-3)" "$NAME"
done
add "[free_logits=true,free_lr_scale=10,free_normalize=true] (3e-4)" freenorm10-3e-4-s0
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-frozen-40k-s26/budgets.json | tee docs/results/iconify-frozen-40k-s26/budgets.md

#!/bin/bash
# Session 31 end to end (PixelCNN from scratch, 32 px, the grouped 20k subset): `embedding-two-way`
# (embedding-scale-cap[sample_softmax=1]) at 3e-3 (seeds 0-2) and 1e-3 (seeds 0-2), 10 epochs,
# beside the default at 3e-3 (session 30's seeds 0-1, runs/s30-e2e/speed) and at 1e-3 and session
# 19's tuned baseline (3 seeds each, merged from its budgets.json). Each run is `labelsphere
# compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=20000 --render-size 32
# --batch-size 128 --hidden 256 --extend-grid 0 --threads 1 --epochs 10 --lrs R --seeds 2
# --only-seed K --heads H --baseline H --out runs/s31-e2e/capss1-R-sK` (runs/s31-e2e/lane.sh;
# seeds 1-2 at 1e-3 ran 5 epochs; seed 2 ran with --seeds 3). Rate per budget: each head's rate picked
# on its first seed's validation, as compare does.
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-e2e-20k-s19/budgets.json
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-scale-cap (1e-3)" $J "cap 15 (1e-3)"
      --merge "embedding-scale-cap (the default), rate per budget" $J "embedding-scale-cap, rate per budget")
add() {  # add LABEL RUN_DIR, if that run finished
  [ -f "$2/result.json" ] && args+=(--run "$1" "$2")
  return 0
}
for K in 0 1; do
  add "embedding-scale-cap (3e-3)" runs/s30-e2e/speed/runs/embedding-scale-cap/lr=0.003/seed=$K
done
T="runs/s31-e2e/capss1"
H="embedding-scale-cap_sample_softmax=1"
for K in 0 1 2; do
  add "embedding-two-way (1e-3)" $T-1e-3-s$K/runs/$H/lr=0.001/seed=$K
done
for K in 0 1 2; do
  add "embedding-two-way (3e-3)" $T-3e-3-s$K/runs/$H/lr=0.003/seed=$K
done
args+=(--pick "embedding-two-way, rate per budget" "embedding-two-way (1e-3)" "embedding-two-way (3e-3)")
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-e2e-20k-s31/budgets.json | tee docs/results/iconify-e2e-20k-s31/budgets.md

#!/bin/bash
# Session 31 on the frozen 40k subset (96 px, grouped validation): the label-to-sample softmax
# (`sample_softmax`) on the default at 1e-3 with 3 seeds (`embedding-two-way`), at weight 3 with
# seed 0, and on embedding-free-unit with seed 0, beside session 30's default and prior-bias
# sigmoid head at 1e-3 (3 seeds each, runs/s30-40k/speed) and session 28's embedding-free-unit at
# 1e-3. One rate for every row, 10 epochs. Each run is `labelsphere compare iconify-icons
# --data-dir ../shared/data --dataset-option max_icons=40000 --image-size 96 --batch-size 256
# --extend-grid 0 --seeds 3 --threads 1 --epochs 10 --lrs 1e-3 --only-seed K --heads H
# --baseline H --out runs/s31-40k/NAME-1e-3-sK` (runs/s31-40k/lane.sh).
cd "$(dirname "$0")/../../.."  # the repository root
S=runs/s30-40k/speed/runs
args=(--baseline "sigmoid-prior (1e-3)")
add() {  # add LABEL RUN_DIR, if that run finished
  [ -f "$2/result.json" ] && args+=(--run "$1" "$2")
  return 0
}
for K in 0 1 2; do
  add "sigmoid-prior (1e-3)" $S/sigmoid-prior/lr=0.001/seed=$K
  add "embedding-scale-cap (the default, 1e-3)" $S/embedding-scale-cap/lr=0.001/seed=$K
  add "embedding-two-way (1e-3)" \
    runs/s31-40k/capss1-1e-3-s$K/runs/embedding-scale-cap_sample_softmax=1/lr=0.001/seed=$K
done
add "embedding-scale-cap[sample_softmax=3] (1e-3), seed 0" \
  runs/s31-40k/capss3-1e-3-s0/runs/embedding-scale-cap_sample_softmax=3/lr=0.001/seed=0
add "embedding-free-unit (1e-3), seed 0" \
  runs/s28-40k/freeunit-1e-3-s0/runs/embedding-free-unit/lr=0.001/seed=0
add "embedding-free-unit[sample_softmax=1] (1e-3), seed 0" \
  runs/s31-40k/fuss1-1e-3-s0/runs/embedding-free-unit_sample_softmax=1/lr=0.001/seed=0
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-frozen-40k-s31/budgets.json | tee docs/results/iconify-frozen-40k-s31/budgets.md

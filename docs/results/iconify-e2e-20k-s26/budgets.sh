#!/bin/bash
# Session 26 end to end (PixelCNN from scratch, 32 px, the grouped 20k subset): the free layer on
# unit inputs at 3x (embedding-free-unit's spec), seeds 0-2, 1e-3, 10 epochs, beside embedding-free's
# runs at 1e-3 (session 25: seed 0 to 10 epochs, seeds 1-2 to 5) and session 19's default at
# 1e-3 and baseline (3 seeds each, merged from its budgets.json). Each run is `labelsphere compare
# iconify-icons --data-dir ../shared/data --dataset-option max_icons=20000 --render-size 32
# --batch-size 128 --hidden 256 --extend-grid 0 --threads 1 --epochs 10 --lrs 1e-3 --seeds 3
# --only-seed K --heads H --baseline H --out runs/s26-e2e/freenorm3-1e-3-sK`
# (runs/s26-e2e.sh, runs/s26-e2e-seeds.sh).
cd "$(dirname "$0")/../../.."  # the repository root
J=docs/results/iconify-e2e-20k-s19/budgets.json
args=(--baseline sigmoid-prior --merge sigmoid-prior $J
      --merge "embedding-scale-cap (1e-3)" $J "cap 15 (1e-3)"
      --merge "embedding-scale-cap (the default), rate per budget" $J "embedding-scale-cap, rate per budget")
add() {  # add LABEL RUN_DIR, if that run evaluated an epoch
  [ -s "$2/metrics.jsonl" ] && args+=(--run "$1" "$2")
  return 0
}
add "embedding-free (1e-3), seed 0" runs/s25-e2e/free-1e-3-10ep-s0/runs/embedding-free/lr=0.001/seed=0
add "embedding-free (1e-3)" runs/s25-e2e/free-1e-3-10ep-s0/runs/embedding-free/lr=0.001/seed=0
for K in 1 2; do  # session 25 ran seeds 1-2 at 1e-3 to 5 epochs
  add "embedding-free (1e-3)" runs/s25-e2e/free-1e-3-5ep-s$K/runs/embedding-free/lr=0.001/seed=$K
done
F="embedding-scale-cap_free_logits=true_free_lr_scale=3_free_normalize=true"
for K in 0 1 2; do
  add "embedding-free-unit (1e-3)" runs/s26-e2e/freenorm3-1e-3-s$K/runs/$F/lr=0.001/seed=$K
done
python benchmarks/run_budgets.py "${args[@]}" --metrics P@1,P@5,PSP@5 --budgets ${1:-1,2,3,5,10} \
  --json docs/results/iconify-e2e-20k-s26/budgets.json | tee docs/results/iconify-e2e-20k-s26/budgets.md

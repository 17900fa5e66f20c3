#!/bin/bash
# Session 32: what narrows the default's lead from the 40k subset to the full set? Three
# changes of one thing each, the prior-bias sigmoid head against the default
# (embedding-scale-cap), frozen 96 px:
#  1. steps per epoch on 40k: batch 32 (977 steps per epoch, the full set's 1018 at batch 256),
#     5 epochs, rates {3e-4, 1e-3} per budget, 2 seeds (40k-batch32/, compare's own report):
#       labelsphere compare iconify-icons --data-dir ../shared/data --dataset-option max_icons=40000 \
#         --image-size 96 --batch-size 32 --epochs 5 --lrs 3e-4,1e-3 --extend-grid 0 --seeds 2 \
#         --threads 1 --heads "sigmoid-prior;embedding-scale-cap" --baseline sigmoid-prior
#  2. steps per epoch on the full set: batch 2048 (127 per epoch, 40k's 122 at batch 256),
#     3 epochs, rates {1e-3, 3e-3} per budget, seed 0 (runs/s32-full/b2048.sh):
#       labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96 --epochs 3 \
#         --batch-size 2048 --lrs 1e-3,3e-3 --extend-grid 0 --seeds 3 --only-seed 0 --threads 1 \
#         --heads H --baseline H --out runs/s32-full/b2048-H
#  3. the vocabulary in training: the full set with labels of >= 42 training icons only
#     (`--dataset-option min_count=42`: the 40k rule of 5 icons as a share of the training set),
#     3 epochs at 1e-3, seed 0 (runs/s32-full/mc42.sh; same command at batch 256 with
#     --dataset-option min_count=42 --lrs 1e-3). Beside it, seed 0 of the full vocabulary
#     (runs/s32-full/lane.sh H 0 1e-3 3, reproducing sessions 18 and 20's seed 0).
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-lead-vs-data-s32
F=runs/s32-full
run() { echo "$1/runs/$2/lr=$3/seed=0"; }
python benchmarks/run_budgets.py --baseline "sigmoid-prior, rate per budget" \
  --run "sigmoid-prior (1e-3)" "$(run $F/b2048-sigmoid-prior sigmoid-prior 0.001)" \
  --run "sigmoid-prior (3e-3)" "$(run $F/b2048-sigmoid-prior sigmoid-prior 0.003)" \
  --run "embedding-scale-cap (1e-3)" "$(run $F/b2048-embedding-scale-cap embedding-scale-cap 0.001)" \
  --run "embedding-scale-cap (3e-3)" "$(run $F/b2048-embedding-scale-cap embedding-scale-cap 0.003)" \
  --pick "sigmoid-prior, rate per budget" "sigmoid-prior (1e-3)" "sigmoid-prior (3e-3)" \
  --pick "embedding-scale-cap, rate per budget" "embedding-scale-cap (1e-3)" "embedding-scale-cap (3e-3)" \
  --budgets 1,2,3 --metrics P@1,P@5 --json $O/full-batch2048.json | tee $O/full-batch2048.md
for M in 42 5; do  # each vocabulary against its own baseline (their test sets differ)
  if [ $M = 42 ]; then P=$F/mc42-; X=; else P=$F/; X=-1e-3-s0; fi
  B="sigmoid-prior (1e-3), >= $M icons"
  python benchmarks/run_budgets.py --baseline "$B" \
    --run "$B" "$(run ${P}sigmoid-prior$X sigmoid-prior 0.001)" \
    --run "embedding-scale-cap (1e-3), >= $M icons" \
    "$(run ${P}embedding-scale-cap$X embedding-scale-cap 0.001)" \
    --budgets 1,2,3 --metrics P@1,P@5 --json $O/full-min-count-$M.json | tee $O/full-min-count-$M.md
done

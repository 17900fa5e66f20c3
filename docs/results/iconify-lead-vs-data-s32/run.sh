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
#     3 epochs, rates {1e-3, 3e-3} per budget on seed 0, seed 1 at 3e-3, the rate both heads
#     picked at every budget (runs/s32-full/b2048.sh; seed 1: --lrs 3e-3 --only-seed 1):
#       labelsphere compare iconify-icons --data-dir ../shared/data --image-size 96 --epochs 3 \
#         --batch-size 2048 --lrs 1e-3,3e-3 --extend-grid 0 --seeds 3 --only-seed 0 --threads 1 \
#         --heads H --baseline H --out runs/s32-full/b2048-H
#  3. the vocabulary in training: the full set with labels of >= 42 training icons only
#     (`--dataset-option min_count=42`: the 40k rule of 5 icons as a share of the training set),
#     3 epochs at 1e-3, 3 seeds (runs/s32-full/mc42.sh; the command of 2. at batch 256 with
#     --dataset-option min_count=42 --lrs 1e-3 --only-seed K). Beside it, the full vocabulary's
#     3 seeds from sessions 18 and 20.
cd "$(dirname "$0")/../../.."  # the repository root
O=docs/results/iconify-lead-vs-data-s32
F=runs/s32-full
run() { echo "$1/runs/$2/lr=$3/seed=0"; }
python benchmarks/run_budgets.py --baseline "sigmoid-prior, rate per budget" \
  --run "sigmoid-prior (1e-3)" "$(run $F/b2048-sigmoid-prior sigmoid-prior 0.001)" \
  --run "sigmoid-prior (3e-3)" "$(run $F/b2048-sigmoid-prior sigmoid-prior 0.003)" \
  --run "embedding-scale-cap (1e-3)" "$(run $F/b2048-embedding-scale-cap embedding-scale-cap 0.001)" \
  --run "embedding-scale-cap (3e-3)" "$(run $F/b2048-embedding-scale-cap embedding-scale-cap 0.003)" \
  --run "sigmoid-prior (3e-3)" "$F/b2048-sigmoid-prior-s1/runs/sigmoid-prior/lr=0.003/seed=1" \
  --run "embedding-scale-cap (3e-3)" "$F/b2048-embedding-scale-cap-s1/runs/embedding-scale-cap/lr=0.003/seed=1" \
  --pick "sigmoid-prior, rate per budget" "sigmoid-prior (1e-3)" "sigmoid-prior (3e-3)" \
  --pick "embedding-scale-cap, rate per budget" "embedding-scale-cap (1e-3)" "embedding-scale-cap (3e-3)" \
  --budgets 1,2,3 --metrics P@1,P@5 --json $O/full-batch2048.json | tee $O/full-batch2048.md
# The full set trained on labels with >= 42 icons, 3 seeds (seed 0 in runs/s32-full/mc42-H,
# seeds 1-2 in mc42-H-sK), against its own baseline; then every label (>= 5 icons), 3 seeds from
# sessions 18 and 20 (session 32's seed-0 runs reproduce their seed 0).
B="sigmoid-prior (1e-3), >= 42 icons"
E="embedding-scale-cap (1e-3), >= 42 icons"
args=(--baseline "$B")
for K in 0 1 2; do
  X=; [ $K = 0 ] || X=-s$K
  for H in sigmoid-prior embedding-scale-cap; do
    D=$F/mc42-$H$X/runs/$H/lr=0.001/seed=$K
    L=$B; [ $H = sigmoid-prior ] || L=$E
    [ -f "$D/result.json" ] && args+=(--run "$L" "$D")
  done
done
python benchmarks/run_budgets.py "${args[@]}" --budgets 1,2,3 --metrics P@1,P@5 \
  --json $O/full-min-count-42.json | tee $O/full-min-count-42.md
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3), >= 5 icons" \
  --merge "sigmoid-prior (1e-3), >= 5 icons" docs/results/iconify-frozen-full-s18/budgets.json "sigmoid-prior (1e-3)" \
  --merge "embedding-scale-cap (1e-3), >= 5 icons" docs/results/iconify-frozen-full-s20/budgets.json "cap 15 (1e-3)" \
  --budgets 1,2,3 --metrics P@1,P@5 --json $O/full-min-count-5.json | tee $O/full-min-count-5.md

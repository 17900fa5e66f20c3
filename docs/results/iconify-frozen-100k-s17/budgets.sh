#!/bin/bash
# Session 17: the nested 100k subset (frozen 96 px, grouped validation), 10 epochs, the default
# (embedding-slow-scale) against the prior-bias sigmoid head. Seed 0 over {3e-4, 1e-3, 3e-3} for the
# baseline and {1e-4, 3e-4, 1e-3} for the default; seeds 1-2 at every budget's pick (--budget-seeds).
# The baseline: 1e-3, its seed-0 validation pick at every budget. "rate per budget": picked on seed 0's validation. The runs: /work/exp/s17/*.sh,
# i.e. `labelsphere compare iconify-icons --dataset-option max_icons=100000 --image-size 96 --epochs 10
# --batch-size 256 --lrs R --extend-grid 0 --seeds 3 [--budget-seeds] --only-seed K --threads 1 --heads H
# --baseline H --out runs/s17-100k-{base,slow}`; the cosine rows add `--schedule cosine --seeds 1`.
cd "$(dirname "$0")/../../.."  # the repository root
B=runs/s17-100k-base/runs/sigmoid-prior
S=runs/s17-100k-slow/runs/embedding-slow-scale
runs=()  # one --run per seed: LABEL RUN_DIR SEEDS...
add() { for k in "${@:3}"; do runs+=(--run "$1" "$2/seed=$k"); done; }
add "sigmoid-prior (3e-4)" $B/lr=0.0003 0
add "sigmoid-prior (1e-3)" $B/lr=0.001 0 1 2
add "sigmoid-prior (3e-3)" $B/lr=0.003 0
add "embedding-slow-scale (1e-4)" $S/lr=0.0001 0
add "embedding-slow-scale (3e-4)" $S/lr=0.0003 0 1 2
add "embedding-slow-scale (1e-3)" $S/lr=0.001 0 1 2
# session 18: the default's top edge. 3e-3 (seed 0, 10 epochs) takes the 1-epoch pick, so seeds 1-2
# at 3e-3 for 1 epoch (--epochs 1 --only-seed K --out runs/s18-100k-slow-3e-3-1ep) and 9e-3 beyond
# it (seed 0, --epochs 3 --out runs/s18-100k-slow-9e-3-3ep), below 3e-3 at every epoch
S3=runs/s18-100k-slow-3e-3/runs/embedding-slow-scale/lr=0.003
add "embedding-slow-scale (3e-3)" $S3 0
add "embedding-slow-scale (3e-3)" runs/s18-100k-slow-3e-3-1ep/runs/embedding-slow-scale/lr=0.003 1 2
add "embedding-slow-scale (3e-3), seed 0" $S3 0
add "embedding-slow-scale (9e-3), seed 0" runs/s18-100k-slow-9e-3-3ep/runs/embedding-slow-scale/lr=0.009 0
add "sigmoid-prior, cosine (1e-3), seed 0" runs/s17-100k-base-cos/runs/sigmoid-prior/lr=0.001 0
add "sigmoid-prior, cosine (3e-3), seed 0" runs/s17-100k-base-cos/runs/sigmoid-prior/lr=0.003 0
add "embedding-slow-scale, cosine (1e-3), seed 0" runs/s17-100k-slow-cos/runs/embedding-slow-scale/lr=0.001 0
add "embedding-slow-scale, cosine (3e-3), seed 0" runs/s17-100k-slow-cos/runs/embedding-slow-scale/lr=0.003 0
python benchmarks/run_budgets.py --baseline "sigmoid-prior (1e-3)" "${runs[@]}" \
  --pick "embedding-slow-scale, rate per budget (1e-4 to 1e-3, session 17)" "embedding-slow-scale (1e-4)" "embedding-slow-scale (3e-4)" "embedding-slow-scale (1e-3)" \
  --pick "embedding-slow-scale, rate per budget" "embedding-slow-scale (1e-4)" "embedding-slow-scale (3e-4)" "embedding-slow-scale (1e-3)" \
    "embedding-slow-scale (3e-3)" "embedding-slow-scale (3e-3), seed 0" "embedding-slow-scale (9e-3), seed 0" --metrics P@1,P@5,mAP,PSP@5 \
  --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-frozen-100k-s17/budgets.json

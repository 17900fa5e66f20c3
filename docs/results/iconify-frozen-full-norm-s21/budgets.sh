#!/bin/bash
# Session 21: does the default rank each label's icons worse on the full set because the cosine
# drops the sample vector's norm? The default with the output left unnormalised
# (embedding-scale-cap[normalize=false]: scale * output . unit label vector) and with the label
# vectors' norms kept as well ([normalize=false,similarity=dot]: a rank-512 linear layer started
# from PMI, with the softmax loss), 1e-3, seed 0, 5 epochs, beside the default and sigmoid-prior
# at the same rate and seed. Each new run is `labelsphere compare iconify-icons --data-dir
# ../shared/data --image-size 96 --epochs 5 --batch-size 256 --lrs 1e-3 --extend-grid 0 --seeds 3
# --only-seed 0 --threads 1 --heads H --baseline H --out runs/s21-full/T-1e-3` (T = nonorm, nonorm-dot).
cd "$(dirname "$0")/../../.."  # the repository root
H=runs/embedding-scale-cap
python benchmarks/run_budgets.py --baseline "sigmoid-prior" \
  --run "sigmoid-prior" runs/s21-full/sigmoid-prior-1e-3/runs/sigmoid-prior/lr=0.001/seed=0 \
  --run "embedding-scale-cap (the default)" runs/s20-full/cap15-1e-3/$H/lr=0.001/seed=0 \
  --run "[normalize=false]" runs/s21-full/nonorm-1e-3/${H}_normalize=false/lr=0.001/seed=0 \
  --run "[normalize=false,similarity=dot]" runs/s21-full/nonorm-dot-1e-3/${H}_normalize=false_similarity=dot/lr=0.001/seed=0 \
  --metrics P@1,PSP@5 --budgets 1,2,3,5 --json docs/results/iconify-frozen-full-norm-s21/budgets.json

#!/bin/bash
# The data-scaling plot of the default (embedding-scale-cap, since session 19): its test MAP@100
# over the tuned prior-bias sigmoid head's, by training-set size. The small sets' cap runs
# (docs/results/cap-*) trained only the cap head; their baseline rows are the same protocol's
# 3-seed sigmoid-prior runs in docs/results/slow-*, paired here by per-seed picks.
cd "$(dirname "$0")/../.."  # the repository root
for S in bibtex corel5k delicious; do
  python benchmarks/run_budgets.py --baseline sigmoid-prior \
    --merge sigmoid-prior docs/results/slow-$S/results.json \
    --merge embedding-scale-cap docs/results/cap-$S/results.json \
    --metrics P@1,P@5,PSP@5 --budgets 1,3,5,10,30 --json docs/results/cap-$S/budgets.json > /dev/null || exit 1
done
python benchmarks/paper_regime.py --by-budget --head embedding-scale-cap \
  --budgets-json docs/results/cap-bibtex/budgets.json embedding-scale-cap sigmoid-prior 4392 "bibtex (features)" \
  --budgets-json docs/results/cap-corel5k/budgets.json embedding-scale-cap sigmoid-prior 4050 "corel5k (features)" \
  --budgets-json docs/results/cap-delicious/budgets.json embedding-scale-cap sigmoid-prior 11628 "delicious (features)" \
  --budgets-json docs/results/iconify-frozen-40k-s19/budgets.json "embedding-scale-cap (cap 15), rate per budget" sigmoid-prior 31255 "iconify-icons (tf_efficientnet_lite0)" \
  --budgets-json docs/results/iconify-frozen-100k-s19/budgets.json "embedding-scale-cap, rate per budget" "sigmoid-prior (1e-3)" 80234 "iconify-icons (tf_efficientnet_lite0)" \
  --budgets-json docs/results/iconify-frozen-full-s20/budgets.json "embedding-scale-cap, rate per budget" "sigmoid-prior (1e-3)" 260706 "iconify-icons (tf_efficientnet_lite0)" \
  --budgets-json docs/results/iconify-e2e-20k-s19/budgets.json "embedding-scale-cap, rate per budget" sigmoid-prior 15240 "iconify-icons (pixel-cnn)" \
  --png docs/benchmarks/data_scaling_cap.png --json docs/benchmarks/data_scaling_cap.json --md docs/benchmarks/data_scaling_cap.md

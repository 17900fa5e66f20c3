#!/bin/bash
# The data-scaling plot of embedding-free (sessions 24-25): its test MAP@100 over the tuned
# prior-bias sigmoid head's, by training-set size, from the same runs as its tables (the full
# set at 1e-3 only). The small sets' rows pair docs/results/free-* with the 3-seed sigmoid-prior
# runs in docs/results/slow-*, by per-seed picks (docs/results/free-*/budgets.json).
cd "$(dirname "$0")/../.."  # the repository root
python benchmarks/paper_regime.py --by-budget --head embedding-free \
  --budgets-json docs/results/free-bibtex/budgets.json embedding-free sigmoid-prior 4392 "bibtex (features)" \
  --budgets-json docs/results/free-corel5k/budgets.json embedding-free sigmoid-prior 4050 "corel5k (features)" \
  --budgets-json docs/results/free-delicious/budgets.json embedding-free sigmoid-prior 11628 "delicious (features)" \
  --budgets-json docs/results/iconify-frozen-40k-s25/budgets.json "embedding-free, rate per budget" sigmoid-prior 31255 "iconify-icons (tf_efficientnet_lite0)" \
  --budgets-json docs/results/iconify-frozen-100k-s25/budgets.json "embedding-free, rate per budget" "sigmoid-prior (1e-3)" 80234 "iconify-icons (tf_efficientnet_lite0)" \
  --budgets-json docs/results/iconify-frozen-full-s25/budgets.json "embedding-free (1e-3)" "sigmoid-prior (1e-3)" 260706 "iconify-icons (tf_efficientnet_lite0)" \
  --budgets-json docs/results/iconify-e2e-20k-s25/budgets.json "embedding-free, rate per budget" sigmoid-prior 15240 "iconify-icons (pixel-cnn)" \
  --png docs/benchmarks/data_scaling_free.png --json docs/benchmarks/data_scaling_free.json --md docs/benchmarks/data_scaling_free.md

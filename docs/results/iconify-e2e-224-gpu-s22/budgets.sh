#!/bin/bash
# Session 22: the end-to-end setting at 224 px on a GPU (one NVIDIA H200, device.txt), cut short.
# `benchmarks/gpu_e2e_224.sh .gpu/data` with DEADLINE=465 under a 530 s limit, as
# `benchmarks/gpu_device.sh prepare` here and `run` there do it (the same 20k subset as
# the CPU runs at 32 px: 15,205 train / 1,687 validation / 1,876 test icons, 1,797 labels),
# PixelCNN, hidden 256, batch 128, 10 epochs, seed 0, --lrs 1e-3,3e-3 --extend-grid 1.
# The sigmoid head's three rates finished (the grid was extended down to 3.3e-4); the default
# head's first rate (1e-3) reached 5 of its 10 epochs when the limit stopped the script, so
# there is no report.md. The run files (metrics.jsonl, config.json, result.json) and the log
# (log.txt.gz: 1,570 images/s, 12.3 steps/s) are copied here from the device's archive.
cd "$(dirname "$0")/../../.."  # the repository root
R=docs/results/iconify-e2e-224-gpu-s22/runs
python benchmarks/run_budgets.py --baseline "sigmoid-prior, rate per budget" \
  --run "sigmoid-prior (3.3e-4)" $R/sigmoid-prior/lr=0.000333/seed=0 \
  --run "sigmoid-prior (1e-3)" $R/sigmoid-prior/lr=0.001/seed=0 \
  --run "sigmoid-prior (3e-3)" $R/sigmoid-prior/lr=0.003/seed=0 \
  --pick "sigmoid-prior, rate per budget" "sigmoid-prior (3.3e-4)" "sigmoid-prior (1e-3)" "sigmoid-prior (3e-3)" \
  --run "embedding-scale-cap (1e-3)" $R/embedding-scale-cap/lr=0.001/seed=0 \
  --metrics P@1,P@5,mAP,PSP@5 --budgets ${1:-1,2,3,5,10} --json docs/results/iconify-e2e-224-gpu-s22/budgets.json

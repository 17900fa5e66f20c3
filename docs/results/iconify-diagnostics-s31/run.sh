#!/bin/bash
# Session 31: where the label-to-sample softmax (`embedding-two-way`) gains, by training frequency
# of the label, against the default and the prior-bias sigmoid head (benchmarks/label_diagnostics.py).
# Frozen 96 px features, the 40k subset, 10 epochs at 1e-3, seed 0 each: session 30's runs
# (runs/s30-40k/speed, docs/results/iconify-frozen-40k-s30-speed/command.sh) and session 31's
# (docs/results/iconify-frozen-40k-s31/budgets.sh).
# Usage: bash run.sh [40k|full]  (default both)
cd "$(dirname "$0")/../../.."  # the repository root
set -e
OUT=docs/results/iconify-diagnostics-s31
S=runs/s30-40k/speed/runs
T=runs/s31-40k/capss1-1e-3-s0/runs/embedding-scale-cap_sample_softmax=1/lr=0.001/seed=0/model
if [ "${1:-40k}" = 40k ]; then
  python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
    --dataset-option max_icons=40000 --edges 0,5,10,20,50,100,300,1000 \
    --run "sigmoid-prior (1e-3)" $S/sigmoid-prior/lr=0.001/seed=0/model \
    --run "embedding-scale-cap (1e-3)" $S/embedding-scale-cap/lr=0.001/seed=0/model \
    --run "embedding-two-way (1e-3)" $T \
    --json $OUT/40k.json --png $OUT/bands-40k.png | tee $OUT/40k.md
fi

# The full set: embedding-two-way at 3e-4, seed 0, 10 epochs (docs/results/iconify-frozen-full-s31),
# against session 21's per-band figures for the sigmoid head (1e-3) and the default (3e-4), seed 0
# each (their models are gone; docs/results/iconify-diagnostics-s21/full.json).
if [ "${1:-full}" = full ]; then
  T="runs/s31-full/embedding-scale-cap[sample_softmax=1]-3e-4-s0/runs/embedding-scale-cap_sample_softmax=1/lr=0.0003/seed=0/model"
  python benchmarks/label_diagnostics.py iconify-icons --data-dir ../shared/data \
    --edges 0,5,10,20,50,100,300,1000 --run "embedding-two-way (3e-4)" "$T" --json $OUT/full.json
  python - "$OUT/full.json" docs/results/iconify-diagnostics-s21/full.json <<'PY' | tee $OUT/full-compare.md
import json, sys
new = json.load(open(sys.argv[1]))["runs"]["embedding-two-way (3e-4)"]["bands"]
old = json.load(open(sys.argv[2]))["runs"]
sig, cap = old["sigmoid-prior (1e-3)"]["bands"], old["embedding-scale-cap (3e-4)"]["bands"]
print("| train count | share of test pairs | sigmoid-prior mAP | default mAP (×) | two-way mAP (×) "
      "| default R@100 (×) | two-way R@100 (×) |")
print("|---|---|---|---|---|---|---|")
for s, c, t in zip(sig, cap, new):
    assert s["band"] == c["band"] == t["band"]
    r = lambda x, k: f"{x[k]:.4f} ({x[k] / s[k]:.2f}×)"
    print(f"| {s['band']} | {s['positives_share']:.3f} | {s['mAP']:.4f} | {r(c, 'mAP')} | "
          f"{r(t, 'mAP')} | {r(c, 'R@100')} | {r(t, 'R@100')} |")
PY
fi

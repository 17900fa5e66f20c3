#!/bin/bash
# The end-to-end setting at 224 px on a GPU machine (issue 11): every head on the same PixelCNN
# (labelsphere.images.cnn) trained from scratch on 224 px grayscale renders of the iconify-icons
# max_icons subset, through `labelsphere compare`, then its tables.
#
#   bash benchmarks/gpu_e2e_224.sh [DATA_DIR] [OUT]
#
# DATA_DIR defaults to $LABELSPHERE_DATA, then ../shared/data; OUT to runs/gpu-e2e-224. The
# environment sets the rest (defaults in brackets): SIZE [224], ICONS (max_icons) [20000],
# EPOCHS [10], LRS [1e-3,3e-3], EXTEND (--extend-grid) [1], SEEDS [1], DEVICE [cuda],
# WORKERS (render processes) [8], STEM (--stem-stride) [4], AMP (1: --amp, bfloat16) [1],
# PYTHON [python], STAGES, DEADLINE [0 = none].
#
# STAGES: groups of heads separated by '|', run in order; each stage reruns `compare` with the
# heads so far, which reuses the finished runs and writes the report for all of them. A stage
# `@N` instead raises the seeds of every head so far to N. With DEADLINE (seconds since the
# script started) a stage is skipped when the last stage's time per run says it would not end
# in time, so a short device loan still comes back with a report of the heads it finished.
# Default: the baseline and the default head, then their seeds 1-2, then the softmax peers,
# then the other embedding heads.
#
# A machine that cannot hold the whole set gets the subset alone (64 MiB travel with the repo):
#   python benchmarks/iconify_subset.py --max-icons 20000 --out .gpu/data
#   bash benchmarks/gpu_e2e_224.sh .gpu/data      # same datasets as ../shared/data with ICONS
# Rehearse on CPU at a size that fits first:
#   SIZE=48 ICONS=2000 EPOCHS=1 LRS=1e-3 EXTEND=0 DEVICE=cpu WORKERS=0 bash benchmarks/gpu_e2e_224.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
DATA=${1:-${LABELSPHERE_DATA:-../shared/data}}
OUT=${2:-runs/gpu-e2e-224}
PY=${PYTHON:-python}
DEADLINE=${DEADLINE:-0}
if [[ ${DEVICE:-cuda} == cuda ]] && ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  echo "gpu_e2e_224.sh: DEVICE=cuda but torch sees no GPU (set DEVICE=cpu to run here anyway)" >&2
  exit 2
fi
# nvidia-smi, where there is one, records which GPU the numbers came from.
mkdir -p "$OUT" && { nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"; } > "$OUT/device.txt"
STAGES=${STAGES:-sigmoid-prior,embedding-scale-cap|@3|softmax,hybrid[loss=softmax]|embedding-paper,embedding,embedding-slow-scale}
heads="" n_heads=0 seeds=${SEEDS:-1} per_run=0
n_rates=$(($(tr ',' '\n' <<< "${LRS:-1e-3,3e-3}" | grep -c .) + ${EXTEND:-1}))  # runs a new head costs
finished() { find "$OUT" -name result.json -path "*/seed=*" 2>/dev/null | wc -l; }
IFS='|' read -ra groups <<< "$STAGES"
for group in "${groups[@]}"; do
  if [[ $group == @* ]]; then
    n_seeds=${group#@} n_new=0 n_runs=$((n_heads * (${group#@} - seeds)))
  else
    n_seeds=$seeds
    n_new=$("$PY" -c 'import sys; from labelsphere.heads import split_specs; print(len(split_specs(sys.argv[1])))' "$group")
    n_runs=$((n_new * (n_rates + seeds - 1)))
  fi
  if ((DEADLINE > 0 && per_run > 0 && SECONDS + per_run * n_runs > DEADLINE)); then
    echo "gpu_e2e_224.sh: skipping $group: ~$((per_run * n_runs)) s at ${per_run} s a run," \
      "$((DEADLINE - SECONDS)) s left before DEADLINE" | tee -a "$OUT/skipped.txt"
    continue
  fi
  if [[ $group != @* ]]; then heads=${heads:+$heads,}$group; fi
  start=$SECONDS before=$(finished)
  amp=() && [[ ${AMP:-1} == 1 ]] && amp=(--amp)
  "$PY" -m labelsphere compare iconify-icons --data-dir "$DATA" \
    --dataset-option "max_icons=${ICONS:-20000}" --render-size "${SIZE:-224}" \
    --stem-stride "${STEM:-4}" "${amp[@]}" \
    --num-workers "${WORKERS:-8}" --batch-size 128 --hidden 256 --epochs "${EPOCHS:-10}" \
    --lrs "${LRS:-1e-3,3e-3}" --extend-grid "${EXTEND:-1}" --seeds "$n_seeds" \
    --device "${DEVICE:-cuda}" --heads "$heads" --baseline sigmoid-prior --out "$OUT"
  ran=$(($(finished) - before))
  # A stage of reused runs (carried from an earlier machine) says nothing about a run's time.
  if ((ran > 0)); then per_run=$(((SECONDS - start + ran) / ran)); fi
  n_heads=$((n_heads + n_new)) seeds=$n_seeds
  echo "gpu_e2e_224.sh: $n_heads heads at $seeds seed(s); $ran runs in $((SECONDS - start)) s"
done
"$PY" benchmarks/paper_regime.py "$OUT" --md "$OUT/paper_regime.md" --json "$OUT/paper_regime.json"

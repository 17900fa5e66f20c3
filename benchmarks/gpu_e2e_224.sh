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
# WORKERS (render processes) [8], PYTHON [python], STAGES, DEADLINE [0 = none].
#
# STAGES: groups of heads separated by '|', run in order; each stage reruns `compare` with the
# heads so far, which reuses the finished runs and writes the report for all of them. With
# DEADLINE (seconds since the script started) a stage is skipped when the last stage's time per
# head says it would not end in time, so a short device loan still comes back with a report of
# the heads it finished. Default: the baseline and the default head first, then the softmax
# peers, then the other embedding heads.
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
STAGES=${STAGES:-sigmoid-prior,embedding-scale-cap|softmax,hybrid[loss=softmax]|embedding-paper,embedding,embedding-slow-scale}
DEADLINE=${DEADLINE:-0}
if [[ ${DEVICE:-cuda} == cuda ]] && ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  echo "gpu_e2e_224.sh: DEVICE=cuda but torch sees no GPU (set DEVICE=cpu to run here anyway)" >&2
  exit 2
fi
# nvidia-smi, where there is one, records which GPU the numbers came from.
mkdir -p "$OUT" && { nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"; } > "$OUT/device.txt"
heads="" n_heads=0 per_head=0
IFS='|' read -ra groups <<< "$STAGES"
for group in "${groups[@]}"; do
  n_new=$("$PY" -c 'import sys; from labelsphere.heads import split_specs; print(len(split_specs(sys.argv[1])))' "$group")
  if ((DEADLINE > 0 && per_head > 0 && SECONDS + per_head * n_new > DEADLINE)); then
    echo "gpu_e2e_224.sh: skipping $group: ~$((per_head * n_new)) s at ${per_head} s a head," \
      "$((DEADLINE - SECONDS)) s left before DEADLINE" | tee -a "$OUT/skipped.txt"
    continue
  fi
  heads=${heads:+$heads,}$group
  start=$SECONDS
  "$PY" -m labelsphere compare iconify-icons --data-dir "$DATA" \
    --dataset-option "max_icons=${ICONS:-20000}" --render-size "${SIZE:-224}" \
    --num-workers "${WORKERS:-8}" --batch-size 128 --hidden 256 --epochs "${EPOCHS:-10}" \
    --lrs "${LRS:-1e-3,3e-3}" --extend-grid "${EXTEND:-1}" --seeds "${SEEDS:-1}" \
    --device "${DEVICE:-cuda}" --heads "$heads" --baseline sigmoid-prior --out "$OUT"
  per_head=$(((SECONDS - start + n_new - 1) / n_new))
  n_heads=$((n_heads + n_new))
  echo "gpu_e2e_224.sh: $n_heads heads done, the last $n_new in $((SECONDS - start)) s"
done
"$PY" benchmarks/paper_regime.py "$OUT" --md "$OUT/paper_regime.md" --json "$OUT/paper_regime.json"

#!/bin/bash
# The end-to-end setting at 224 px, prepared for a GPU machine (issue 11): every head on the same
# PixelCNN (labelsphere.images.cnn) trained from scratch on 224 px grayscale renders of the
# grouped iconify-icons subset, in one `labelsphere compare`, then its tables.
#
#   bash benchmarks/gpu_e2e_224.sh [DATA_DIR] [OUT]
#
# DATA_DIR defaults to $LABELSPHERE_DATA, then ../shared/data; OUT to runs/gpu-e2e-224. The
# environment sets the rest (defaults in brackets): SIZE [224], ICONS (max_icons) [20000],
# EPOCHS [5], LRS [1e-3,3e-3], SEEDS [1], EXTEND (--extend-grid) [0], DEVICE [cuda],
# WORKERS (render processes) [8], HEADS [the seven below, the baseline and the default first].
# Run again with the same OUT and it resumes: finished runs are kept, renders are cached.
#
# Sized for a 15-minute device loan that allows 10 minutes a command, before any GPU was lent to
# this project, so the defaults are an estimate, not a measurement: 7 heads x 2 rates x 5 epochs
# of 15k renders. Check it on CPU first at a size that fits (13 minutes here, 1-2 of them per run,
# while two other trainings shared the 2 cores):
#   SIZE=48 ICONS=2000 EPOCHS=1 LRS=1e-3 DEVICE=cpu WORKERS=0 bash benchmarks/gpu_e2e_224.sh
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
DATA=${1:-${LABELSPHERE_DATA:-../shared/data}}
OUT=${2:-runs/gpu-e2e-224}
SIZE=${SIZE:-224}
HEADS=${HEADS:-sigmoid-prior,embedding-scale-cap,hybrid[loss=softmax],softmax,embedding-slow-scale,embedding,embedding-paper}
if [[ ${DEVICE:-cuda} == cuda ]] && ! python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  echo "gpu_e2e_224.sh: DEVICE=cuda but torch sees no GPU (set DEVICE=cpu to run here anyway)" >&2
  exit 2
fi
# nvidia-smi, where there is one, records which GPU the numbers came from.
mkdir -p "$OUT" && { nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"; } > "$OUT/device.txt"
labelsphere compare iconify-icons --data-dir "$DATA" --dataset-option "max_icons=${ICONS:-20000}" \
  --render-size "$SIZE" --num-workers "${WORKERS:-8}" --batch-size 128 --hidden 256 \
  --epochs "${EPOCHS:-5}" --lrs "${LRS:-1e-3,3e-3}" --extend-grid "${EXTEND:-0}" \
  --seeds "${SEEDS:-1}" --device "${DEVICE:-cuda}" \
  --heads "$HEADS" --baseline sigmoid-prior --out "$OUT"
python benchmarks/paper_regime.py "$OUT" --md "$OUT/paper_regime.md" --json "$OUT/paper_regime.json"

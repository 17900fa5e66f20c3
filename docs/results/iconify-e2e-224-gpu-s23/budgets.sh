#!/bin/bash
# Session 23: the end-to-end setting at 224 px on a GPU (one NVIDIA H200 each call, device.txt),
# the PixelCNN with ResNet's stem (--stem-stride 4), bfloat16 autocast for the network (--amp;
# the heads in float32), cuDNN autotuning and channels-last, the same 20k subset as the 32 px
# runs and session 22 (15,240 train / 1,698 validation / 1,889 test icons, 1,797 labels),
# hidden 256, batch 128, 10 epochs, --lrs 1e-3,3e-3 --extend-grid 1. Made by
#   bash benchmarks/gpu_device.sh prepare                                  # here
#   LIMIT=450 DEADLINE=400 bash benchmarks/gpu_device.sh run $OUT          # call 1 (this dir)
#   RUNS=runs/gpu-peers STAGES='sigmoid-prior,softmax|hybrid[loss=softmax]' SPEED=0 \
#     LIMIT=265 DEADLINE=235 bash benchmarks/gpu_device.sh run $OUT        # call 3 (peers/)
# Call 1: the baseline and the default, seed 0 at every rate, then seeds 1-2 at each head's
# pick (log.txt.gz); the softmax peers' stage was skipped by the DEADLINE. Call 2 tried to reuse
# call 1's runs carried back without their weights and stopped at once (a reused run's model is
# verified against its checksums); call 3 ran the baseline again beside `softmax` on a fresh
# output (peers/, seed 0; hybrid was skipped by the DEADLINE). GPU runs are not bit-reproducible
# (cuDNN autotuning, atomics): the baseline's seed 0 at 3e-3 validated at 0.1807 on the first
# machine and 0.1817 on the other, so each head is compared with the baseline of its own call.
# The run files (metrics.jsonl, config.json, result.json, reports) are the devices' archives,
# without weights or checkpoints. This script rebuilds the tables from them.
cd "$(dirname "$0")/../../.."  # the repository root
D=docs/results/iconify-e2e-224-gpu-s23
python benchmarks/paper_regime.py $D $D/peers --md $D/tables.md --json $D/tables.json

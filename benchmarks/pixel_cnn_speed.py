"""Benchmark: PixelCNN training steps per second by stem, precision and memory layout.

Session 22 trained the PixelCNN on 224 px renders at 12.3 steps/s (batch 128) on an H200, with
its full-resolution stem, float32 and cuDNN's default kernels. This script times full training
steps (forward, loss, backward, AdamW) of the same classifier (``build_classifier``: PixelCNN,
an MLP of 256, a sigmoid head over ``--labels`` labels) in each configuration side by side:

- ``stem``: 1 (the 32-48 px design) or 4 (ResNet's stem; ``TrainConfig.stem_stride``);
- ``amp``: float32, or bfloat16 autocast as ``TrainConfig.amp`` trains on CUDA;
- ``layout``: contiguous or channels-last weights (the loop uses channels-last on CUDA);
- ``cudnn.benchmark``: off (as the loop leaves it), or on (session 23's runs had it on).

Pixels are random uint8 (a convolution's time does not depend on what it sees). Each round
runs every configuration in turn for ``--steps`` timed steps after ``--warmup``; the table gives
the median over rounds of images per second and its ratio to the session-22 configuration.

    python benchmarks/pixel_cnn_speed.py [--size 224] [--batch 128] [--steps 20] [--rounds 3] \\
        [--device cuda] [--json docs/benchmarks/pixel_cnn_speed.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from labelsphere.artifacts import write_json
from labelsphere.images.cnn import PIXEL_CNN
from labelsphere.train import TrainConfig
from labelsphere.train.loop import train_step
from labelsphere.train.model import build_classifier

# (stem_stride, amp, channels_last, cudnn_benchmark); the first is session 22's.
CONFIGS = [
    (1, False, False, False),
    (1, False, False, True),
    (1, True, True, True),
    (4, False, False, False),
    (4, False, False, True),
    (4, True, False, True),
    (4, False, True, True),
    (4, True, True, True),
]


def name(cfg: tuple[int, bool, bool, bool]) -> str:
    stem, amp, cl, bench = cfg
    layout = "channels-last" if cl else "contiguous"
    return (
        f"stem {stem}, {'bf16' if amp else 'fp32'}, {layout}, benchmark {'on' if bench else 'off'}"
    )


def build(cfg, n_labels: int, device: torch.device, lr: float = 1e-3):
    stem, _, cl, _ = cfg
    config = TrainConfig(head="sigmoid", hidden=(256,), backbone=PIXEL_CNN, stem_stride=stem)
    torch.manual_seed(0)
    model = build_classifier(config, None, n_labels, None).to(device)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return model, opt, sched


def time_steps(state, cfg, x, y, steps: int, device: torch.device) -> float:
    """Seconds per training step over ``steps`` steps."""
    model, opt, sched = state
    torch.backends.cudnn.benchmark = cfg[3]
    use_amp = cfg[1] and device.type == "cuda"
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        train_step(model, x, y, opt, sched, use_amp)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--labels", type=int, default=1797, help="the 20k subset's label count")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if min(a.size, a.batch, a.labels, a.steps, a.rounds) < 1 or a.warmup < 0:
        print("pixel_cnn_speed.py: sizes, counts and rounds must be >= 1", file=sys.stderr)
        return 2
    device = torch.device(a.device)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (a.batch, a.size, a.size), dtype=np.uint8))
    y = torch.from_numpy((rng.random((a.batch, a.labels)) < 3 / a.labels).astype(np.float32))
    x, y = x.to(device), y.to(device)
    states = {cfg: build(cfg, a.labels, device) for cfg in CONFIGS}
    for cfg, state in states.items():  # warm-up: cuDNN's autotuning, allocator, lazy init
        if a.warmup:
            time_steps(state, cfg, x, y, a.warmup, device)
    seconds: dict[tuple, list[float]] = {cfg: [] for cfg in CONFIGS}
    for r in range(a.rounds):
        order = CONFIGS if r % 2 == 0 else CONFIGS[::-1]
        for cfg in order:
            seconds[cfg].append(time_steps(states[cfg], cfg, x, y, a.steps, device))
    base = statistics.median(seconds[CONFIGS[0]])
    rows = []
    for cfg in CONFIGS:
        med = statistics.median(seconds[cfg])
        rows.append(
            {
                "config": name(cfg),
                "stem_stride": cfg[0],
                "amp": cfg[1],
                "channels_last": cfg[2],
                "cudnn_benchmark": cfg[3],
                "ms_per_step": round(med * 1000, 2),
                "images_per_s": round(a.batch / med, 1),
                "speedup": round(base / med, 2),
                "rounds_ms": [round(s * 1000, 2) for s in seconds[cfg]],
            }
        )
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"PixelCNN training steps, {a.size} px, batch {a.batch}, {a.labels} labels, {dev}")
    print(f"{'configuration':<52} {'ms/step':>8} {'images/s':>9} {'speedup':>8}")
    for r in rows:
        print(f"{r['config']:<52} {r['ms_per_step']:>8} {r['images_per_s']:>9} {r['speedup']:>7}x")
    if a.json:
        write_json(a.json, {"device": dev, "args": vars(a), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the host-side cost of one training batch of renders, uint8 against float32.

The end-to-end loop draws each batch of (B, S, S) uint8 renders from memory and copies it to
the device. Until session 22 every batch became float32 on the host first
(``torch.from_numpy(np.asarray(X[idx], dtype=np.float32))``); now
:func:`labelsphere.train.batches.input_tensor` keeps it uint8 and the ``PixelCNN`` scales it on
the device. On an H200, 224 px training ran at 12.3 steps/s (1,570 images/s) with the float32
batches; this script measures what the host spends per batch both ways, on real iconify-icons
renders, side by side (alternating order each round), and, where CUDA is available, the copy
to the device as well.

    python benchmarks/render_batches.py [--size 224] [--icons 512] [--batch 128] [--rounds 9] \\
        [--data-dir DIR] [--json docs/benchmarks/render_batches.json]

Prints a table (median over rounds of the per-batch milliseconds, and their ratio) and writes
the JSON with every round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from labelsphere.artifacts import write_json
from labelsphere.data import get_data_dir
from labelsphere.data.readers.iconify import load_iconify
from labelsphere.data.renders import DEFAULT_RENDER_CACHE, render_icons
from labelsphere.train.batches import epoch_batches, input_tensor


def float32_batch(x: np.ndarray) -> torch.Tensor:
    """The batch as the loop built it before session 22."""
    return torch.from_numpy(np.asarray(x, dtype=np.float32))


def time_batches(X: np.ndarray, batches: list[np.ndarray], make, device: torch.device) -> float:
    """Milliseconds per batch: index the rows, build the tensor, copy it to ``device``."""
    t = time.perf_counter()
    for idx in batches:
        xb = make(X[idx]).to(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    del xb
    return (time.perf_counter() - t) * 1000 / len(batches)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--icons", type=int, default=512, help="real icons rendered (then reused)")
    p.add_argument("--rows", type=int, default=8192, help="rows in memory, drawn from the icons")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    try:
        ds = load_iconify(get_data_dir(a.data_dir) / "iconify-icons", "train", max_icons=a.icons)
    except (OSError, ValueError) as e:
        print(f"render_batches.py: {e}", file=sys.stderr)
        return 1
    renders, ok = render_icons(ds.X, a.size, DEFAULT_RENDER_CACHE, progress=False)
    rng = np.random.default_rng(0)
    X = renders[ok][rng.integers(0, int(ok.sum()), a.rows)]  # (rows, S, S) uint8
    batches = epoch_batches(len(X), 0, 0, a.batch)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ways = {"float32 on the host": float32_batch, "uint8 (input_tensor)": input_tensor}
    times: dict[str, list[float]] = {w: [] for w in ways}
    for r in range(a.rounds + 1):
        order = list(ways) if r % 2 == 0 else list(ways)[::-1]
        for w in order:
            ms = time_batches(X, batches, ways[w], device)
            if r > 0:  # round 0 warms both up
                times[w].append(ms)
    med = {w: statistics.median(v) for w, v in times.items()}
    nbytes = {w: ways[w](X[batches[0]]).element_size() * a.batch * a.size**2 for w in ways}
    lines = [
        f"Batches of {a.batch} real {a.size} px renders ({int(ok.sum())} icons, {len(X)} rows), "
        f"to {device.type}; median of {a.rounds} rounds, ms per batch.",
        "",
        "| batch | MB per batch | ms per batch | ratio to float32 |",
        "|---|---|---|---|",
    ]
    base = med["float32 on the host"]
    for w in ways:
        lines.append(f"| {w} | {nbytes[w] / 1e6:.1f} | {med[w]:.2f} | {med[w] / base:.2f}× |")
    print("\n".join(lines))
    if a.json:
        write_json(
            a.json,
            {
                "size": a.size,
                "batch": a.batch,
                "icons": int(ok.sum()),
                "rows": len(X),
                "device": device.type,
                "threads": torch.get_num_threads(),
                "ms_per_batch_rounds": times,
                "ms_per_batch_median": med,
                "bytes_per_batch": nbytes,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

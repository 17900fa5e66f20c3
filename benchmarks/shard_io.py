"""Benchmark: iconify-icons SVGs as WebDataset tar shards vs as individual files.

Usage (from the repository root)::

    python benchmarks/shard_io.py                    # writes docs/benchmarks/shard_io.json
    python benchmarks/shard_io.py --max-icons 2000 --out /tmp/quick.json

Loads ``load_dataset("iconify-icons", "train", max_icons=--max-icons)`` (its SVG files in the
content-addressed ``--svg-dir``), writes it with ``write_dataset_shards(ds, --shard-dir,
shard_size=--shard-size)`` (timed: reading each SVG file, writing the tars, fsync, rename) and
then reads every image's bytes back (``--repeats`` rounds, the median reported, shards and
files alternating first):

* **shards**: ``iter_image_shards(shard_dir)`` -- key, bytes, labels (JSON parsed) per sample;
* **files**: ``read_image_file(path)`` for each SVG file of ``ds.X`` (the bytes only; the
  labels come from the dataset already in memory);

both warm (files just read, in the page cache) and cold (each file's cached pages dropped
first with ``posix_fadvise(DONTNEED)``, which needs no privileges but only drops clean pages
of a local disk). Then labels only (``read_image_shards``: no image bytes read), and reading
plus decoding (``decode_image`` at ``--svg-size`` px) of the first ``--decode-n`` samples
from each, to show where the time goes once images are rasterised.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _drop_cache(paths: list[Path]) -> None:
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--max-icons", type=int, default=20_000)
    ap.add_argument("--svg-dir", default=None, help="default: load_iconify's DEFAULT_SVG_DIR")
    ap.add_argument("--shard-dir", default="/tmp/labelsphere_shard_io")
    ap.add_argument("--shard-size", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--decode-n", type=int, default=300)
    ap.add_argument("--svg-size", type=int, default=64)
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "shard_io.json"))
    args = ap.parse_args()

    from labelsphere.data import load_dataset
    from labelsphere.data.readers import iter_image_shards, read_image_shards
    from labelsphere.data.readers.webdataset import write_dataset_shards
    from labelsphere.images import decode_image, load_image, read_image_file

    t = time.perf_counter()
    opts = {"max_icons": args.max_icons}
    if args.svg_dir:
        opts["svg_dir"] = args.svg_dir
    ds = load_dataset("iconify-icons", "train", data_dir=args.data_dir, **opts)
    load_s = time.perf_counter() - t
    n = len(ds)
    files = [Path(p) for p in ds.X]
    file_bytes = sum(p.stat().st_size for p in files)
    file_disk = sum(p.stat().st_blocks * 512 for p in files)
    print(f"loaded {ds.name}: {n} icons, {load_s:.1f} s", file=sys.stderr)

    t = time.perf_counter()
    shards = write_dataset_shards(ds, args.shard_dir, args.shard_size, overwrite=True)
    write_s = time.perf_counter() - t
    shard_bytes = [p.stat().st_size for p in shards]

    def read_shards() -> int:
        return sum(len(s.data) for s in iter_image_shards(shards))

    def read_files() -> int:
        return sum(len(read_image_file(p)) for p in files)

    def timed(fn, cold_paths=None) -> float:
        if cold_paths is not None:
            _drop_cache(cold_paths)
        t0 = time.perf_counter()
        got = fn()
        dt = time.perf_counter() - t0
        assert got == file_bytes, (got, file_bytes)
        return dt

    runs: dict[str, list[float]] = {k: [] for k in ("shards", "files", "shards_cold", "files_cold")}
    read_shards(), read_files()  # warm-up
    for r in range(args.repeats):
        order = [("shards", read_shards, shards), ("files", read_files, files)]
        for name, fn, paths in order if r % 2 == 0 else order[::-1]:
            runs[name].append(timed(fn))
            runs[name + "_cold"].append(timed(fn, paths))
    med = {k: statistics.median(v) for k, v in runs.items()}

    labels_runs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        back = read_image_shards(shards)
        labels_runs.append(time.perf_counter() - t0)
    assert back.ids == ds.ids

    k = min(args.decode_n, n)

    def decode_shards() -> float:
        t0 = time.perf_counter()
        for i, s in enumerate(iter_image_shards(shards)):
            if i >= k:
                break
            decode_image(s.data, f"{s.key}.{s.ext}", svg_size=args.svg_size)
        return time.perf_counter() - t0

    def decode_files() -> float:
        t0 = time.perf_counter()
        for p in files[:k]:
            load_image(p, svg_size=args.svg_size)
        return time.perf_counter() - t0

    load_image(files[0], svg_size=args.svg_size)  # warm-up (imports cairosvg)
    dec: dict[str, list[float]] = {"shards": [], "files": []}
    for r in range(args.repeats):
        order = [("shards", decode_shards), ("files", decode_files)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            dec[name].append(fn())
    dec_shards, dec_files = statistics.median(dec["shards"]), statistics.median(dec["files"])

    rows = [
        ("shards, warm", med["shards"], n / med["shards"]),
        ("files, warm", med["files"], n / med["files"]),
        ("shards, cold", med["shards_cold"], n / med["shards_cold"]),
        ("files, cold", med["files_cold"], n / med["files_cold"]),
        ("shards, labels only", statistics.median(labels_runs), n / statistics.median(labels_runs)),
        (f"shards + decode {args.svg_size} px ({k})", dec_shards, k / dec_shards),
        (f"files + decode {args.svg_size} px ({k})", dec_files, k / dec_files),
    ]
    result = {
        "command": " ".join(["python benchmarks/shard_io.py", *sys.argv[1:]]),
        "dataset": ds.name,
        "max_icons": args.max_icons,
        "n_samples": n,
        "load_dataset_s": round(load_s, 2),
        "write": {
            "seconds": round(write_s, 2),
            "samples_per_s": round(n / write_s),
            "shard_size": args.shard_size,
            "n_shards": len(shards),
            "shard_mb_total": round(sum(shard_bytes) / 1e6, 2),
            "shard_mb_mean": round(statistics.mean(shard_bytes) / 1e6, 2),
            "svg_mb_content": round(file_bytes / 1e6, 2),
            "svg_mb_on_disk": round(file_disk / 1e6, 2),
            "n_svg_files": n,
        },
        "read": [
            {"what": w, "seconds": round(s, 3), "samples_per_s": round(r)} for w, s, r in rows
        ],
        "repeats": args.repeats,
        "read_runs_s": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
        },
    }
    w = result["write"]
    print(f"\n`{result['command']}` -- {n} icons of {ds.name}, max_icons={args.max_icons}\n")
    print(
        f"write: {w['seconds']} s ({w['samples_per_s']} samples/s), {w['n_shards']} shards of "
        f"<= {args.shard_size}, {w['shard_mb_total']} MB ({w['shard_mb_mean']} MB each); "
        f"the SVG files: {w['svg_mb_content']} MB content, {w['svg_mb_on_disk']} MB on disk\n"
    )
    print("| read | seconds | samples/s |\n|---|---:|---:|")
    for what, s, r in rows:
        print(f"| {what} | {s:.3f} | {r:,.0f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

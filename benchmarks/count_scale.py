"""Benchmark: counting throughput, 1 process vs 2 processes under torchrun (distributed counting).

Usage (from the repository root)::

    python benchmarks/count_scale.py                    # 17k and 100k labels
    python benchmarks/count_scale.py --sizes quick      # smoke run (3k labels)

Data: the seeded power-law generator of ``benchmarks/embedding_scale.py`` (17k labels / 300k
samples, 100k labels / 2M samples, seed 0), written as ``--n-shards`` JSONL shards of label
names (``t<id>``).

For each size and each vocabulary mode (**given**: ``--vocabulary`` of all L names; **grown**:
none, the vocabulary grows while counting and is ordered by count at the end) the shards are
counted by ``labelsphere.counting.count_shards_distributed``:

* **1 process**: ``python count_scale.py --worker ...`` (no process group: plain
  ``count_shards``);
* **2 processes**: ``torchrun --standalone --nproc-per-node 2 count_scale.py --worker ...``:
  rank r counts shards r, r + 2, ...; label counts all-reduced, pair counts and (grown) names
  all-gathered with gloo.

Samples per second = N / the time of the whole ``count_shards_distributed`` call (the slowest
rank's: reading, parsing, encoding, counting, for 2 processes the merge, and the final ordering
by count; plus, for 1 process, summing the last batches' pair counts, which ``count_shards``
otherwise leaves until the counts are first read), as every rank returns the merged counter; process start-up, imports and joining the
group (done by the worker before the clock starts) are excluded. The JSON also holds the
counter's own ``seconds_`` / ``samples_per_second_`` (without the final ordering), the merge
time and the wall time with start-up. Each worker runs with one BLAS/OpenMP thread. Rank 0 saves the counter; the
2-process counter is checked identical to the 1-process one (vocabulary, label counts, pair
CSR arrays, number of samples). Writes the markdown table to stdout and the JSON to ``--out``
(default ``docs/benchmarks/count_scale.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
MODES = ("given", "grown")


def worker(args: argparse.Namespace) -> None:
    """Hidden worker (1 process, or each torchrun rank): count the shards, rank 0 saves."""
    from labelsphere import LabelVocabulary
    from labelsphere.counting import count_shards_distributed

    vocab = LabelVocabulary.load(args.worker_vocab) if args.worker_vocab else None
    files = sorted(Path(args.worker_shards).glob("*.jsonl"))
    dist = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # join first: start-up is not timed
        import torch
        import torch.distributed as dist

        dist.init_process_group("gloo")
        dist.barrier()
    t0 = time.perf_counter()
    c: Any = count_shards_distributed(files, vocab, progress=False)
    n_pairs = c.n_pairs_  # 1 process may leave the last pairs unsummed until asked: sum them
    call = time.perf_counter() - t0
    if dist is not None:
        t = torch.tensor([call], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        call = float(t.item())
        dist.destroy_process_group()
    if c.rank_ != 0:
        return
    c.save(args.worker_save)
    upper = c.pair_counts(full=False)
    np.savez(
        str(args.worker_save) + ".npz",
        indptr=upper.indptr,
        indices=upper.indices,
        data=upper.data,
        label_counts=c.label_counts_,
    )
    Path(args.worker_out).write_text(
        json.dumps(
            {
                "call_seconds": call,
                "call_samples_per_second": c.n_samples_ / call,
                "seconds": c.seconds_,
                "merge_seconds": c.merge_seconds_,
                "samples": c.n_samples_,
                "samples_per_second": c.samples_per_second_,
                "world_size": c.world_size_,
                "n_labels": c.n_labels,
                "n_pairs": n_pairs,
            }
        )
    )


def _launch(procs: int, wargs: list[str]) -> float:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = [sys.executable]
    if procs > 1:
        cmd += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)]
    cmd += [str(Path(__file__).resolve()), *wargs]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{procs}-process count failed:\n{(r.stdout + r.stderr)[-4000:]}")
    return time.perf_counter() - t0


def _same(a: Path, b: Path) -> bool:
    from labelsphere import CooccurrenceCounter

    ca, cb = CooccurrenceCounter.load(a), CooccurrenceCounter.load(b)
    if ca.vocabulary != cb.vocabulary or ca.n_samples_ != cb.n_samples_:
        return False
    ra, rb = np.load(str(a) + ".npz"), np.load(str(b) + ".npz")
    return all(ra[k].dtype == rb[k].dtype and np.array_equal(ra[k], rb[k]) for k in ra.files)


def bench_size(name: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from embedding_scale import SIZES, generate_synthetic, write_shards

    from labelsphere import LabelVocabulary

    cfg = SIZES[name]
    t0 = time.perf_counter()
    Y = generate_synthetic(cfg["n_samples"], cfg["n_labels"], cfg["n_topics"], args.seed)
    shard_dir = tmp / f"{name}-shards"
    write_shards(Y, shard_dir, args.n_shards)
    prep_s = time.perf_counter() - t0
    n, L = Y.shape
    stats = {
        "n_samples": int(n),
        "n_labels": int(L),
        "labels_used": int(np.count_nonzero(np.bincount(Y.indices, minlength=L))),
        "mean_labels_per_sample": float(Y.nnz / n),
        "n_shards": args.n_shards,
        "generate_and_write_seconds": prep_s,
    }
    del Y
    print(f"[{name}] {json.dumps(stats)}", flush=True)
    vocab_path = tmp / f"{name}-vocab.json"
    LabelVocabulary([f"t{j}" for j in range(L)]).save(vocab_path)
    res: dict[str, Any] = {"stats": stats}
    for mode in MODES:
        runs: dict[str, Any] = {}
        for procs in (1, 2):
            out = tmp / f"{name}-{mode}-{procs}.json"
            save = tmp / f"{name}-{mode}-{procs}.safetensors"
            wargs = ["--worker", "--worker-shards", str(shard_dir), "--worker-out", str(out)]
            wargs += ["--worker-save", str(save)]
            if mode == "given":
                wargs += ["--worker-vocab", str(vocab_path)]
            wall = _launch(procs, wargs)
            w = json.loads(out.read_text())
            w["wall_seconds_with_startup"] = wall
            runs[f"{procs}_process"] = w
            print(
                f"  [{name}] vocabulary {mode}, {procs} process(es): {w['call_seconds']:.1f} s "
                f"(merge {w['merge_seconds']:.2f} s), {w['call_samples_per_second']:,.0f} "
                f"samples/s; {wall:.1f} s with start-up",
                flush=True,
            )
        runs["speedup"] = runs["1_process"]["call_seconds"] / runs["2_process"]["call_seconds"]
        runs["two_equal_one"] = _same(
            tmp / f"{name}-{mode}-1.safetensors", tmp / f"{name}-{mode}-2.safetensors"
        )
        res[mode] = runs
    return res


def markdown_table(results: dict[str, Any]) -> str:
    lines = [
        "| labels | samples | co-occurring pairs | vocabulary | 1 process (samples/s) | "
        "2 processes (samples/s) | speedup | merge (s) | 2-process = 1-process counts |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for res in results["sizes"].values():
        st = res["stats"]
        for mode in MODES:
            r = res[mode]
            pairs = r["1_process"]["n_pairs"] - st["labels_used"]  # off the diagonal
            lines.append(
                f"| {st['n_labels']:,} | {st['n_samples']:,} | {pairs:,} | {mode} | "
                f"{r['1_process']['call_samples_per_second']:,.0f} | "
                f"{r['2_process']['call_samples_per_second']:,.0f} | {r['speedup']:.2f}x | "
                f"{r['2_process']['merge_seconds']:.1f} | {'yes' if r['two_equal_one'] else 'NO'} |"
            )
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/count_scale.json")
    ap.add_argument("--sizes", nargs="+", default=["17k", "100k"])
    ap.add_argument("--n-shards", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--worker-shards", "--worker-out", "--worker-save", "--worker-vocab"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    results: dict[str, Any] = {
        "config": {
            "sizes": args.sizes,
            "n_shards": args.n_shards,
            "seed": args.seed,
            "command": " ".join(["python", *sys.argv]),
        },
        "machine": machine_info(),
        "sizes": {},
    }
    print(json.dumps(results["machine"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="labelsphere-count-") as tmpdir:
        for name in args.sizes:
            results["sizes"][name] = bench_size(name, Path(tmpdir), args)
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    table = markdown_table(results)
    results["table_markdown"] = table
    print()
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return None


if __name__ == "__main__":
    main()

"""Benchmark: exact top-100 decoding at 17k, 100k and 1M labels, labelsphere against FAISS.

Usage (from the repository root)::

    python benchmarks/decode_scale.py --threads 2          # full run, writes docs/benchmarks/
    python benchmarks/decode_scale.py --quick              # 17k labels, 256 queries (seconds)

Data: seeded Gaussian keys (L x 256, one per label) and queries (2,048 x 256), every row
unit-normalised (``--seed``, default 0); top-100 by inner product (= cosine). Gaussian keys
are the worst case for the approximate indexes: no cluster structure, high intrinsic
dimension; real label embeddings are easier for them.

Methods, all searched on the same keys and queries:

* **labelsphere exact**: ``LabelIndex("exact").fit(keys).search(queries, 100)``, i.e.
  ``labelsphere.decode.topk_similar`` (blocked fp32 GEMM into a preallocated 256 MiB buffer,
  ``torch.topk`` per block, candidates of label chunks reduced to the exact top-k).
* **old numpy**: ``old_topk_similar`` below, labelsphere's implementation before issue 10
  (numpy GEMM per block, ``np.argpartition`` + ``np.lexsort``; the 256 MiB block holds only
  64 queries at 1M labels).
* **FAISS flat**: ``LabelIndex("faiss-flat")`` = ``faiss.IndexFlatIP`` (exact).
* **FAISS HNSW**: ``LabelIndex("faiss-hnsw")`` = ``IndexHNSWFlat(METRIC_INNER_PRODUCT)``,
  M=32, efConstruction=200, efSearch=256; at L > 200k M=16 and efConstruction=80 (build time),
  and skipped, with the reason printed, when a build on 20k keys predicts more than
  ``--hnsw-max-build`` seconds (default 300) for the full set.
* **FAISS IVF**: ``LabelIndex("faiss-ivf")`` = ``IndexIVFFlat`` by inner product, nlist =
  round(sqrt(L)) cells trained on the keys, nprobe = max(8, nlist // 8).
* **torch matmul+topk**: the plain torch baseline, ``torch.topk(q @ keys.T, 100)`` over blocks of
  queries that keep the score block under 256 MiB.

Each method's search of all queries is timed ``--repeats`` times (default 3; methods
interleaved within a repeat) and the median reported as queries per second; index build time
is reported separately (FAISS flat: copying the keys; HNSW: graph build; IVF: k-means + add).
Recall@100 is measured against labelsphere exact. Threads: torch, FAISS (OpenMP) and numpy's
BLAS are all limited to ``--threads`` (default 2).

Prints a markdown table and writes ``--out`` (default ``docs/benchmarks/decode_scale.json``; with
``--quick`` a file in the temporary directory) and a PNG bar chart beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from labelsphere.artifacts import atomic_write, write_json
from labelsphere.decode import DEFAULT_BLOCK_BYTES, LabelIndex, recall_at_k, topk

REPO = Path(__file__).resolve().parents[1]
K = 100
DIM = 256
SIZES = (17_000, 100_000, 1_000_000)
METHODS = (
    "labelsphere exact",
    "old numpy",
    "FAISS flat",
    "FAISS HNSW",
    "FAISS IVF",
    "torch matmul+topk",
)


# ---------------------------------------------------------------------- the baselines
def old_topk_similar(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int,
    bias: np.ndarray | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """labelsphere.decode.topk_similar before issue 10, verbatim (numpy blocks)."""
    queries = np.asarray(queries, dtype=np.float32)
    keys = np.asarray(keys, dtype=np.float32)
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(
            f"queries (n, d) and keys (L, d) must share d; got {queries.shape} and {keys.shape}"
        )
    n, L = queries.shape[0], keys.shape[0]
    k = min(k, L)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float32)
        if bias.shape != (L,):
            raise ValueError(f"bias must have shape ({L},), got {bias.shape}")
    out_idx = np.empty((n, k), dtype=np.int64)
    out_val = np.empty((n, k), dtype=np.float32)
    cols = max(k, min(L, block_bytes // 4))  # label block width
    rows = max(1, block_bytes // (4 * cols))
    for r0 in range(0, n, rows):
        q = queries[r0 : r0 + rows]
        best_idx: np.ndarray | None = None
        best_val: np.ndarray | None = None
        for c0 in range(0, L, cols):
            s = q @ keys[c0 : c0 + cols].T
            if bias is not None:
                s += bias[c0 : c0 + cols]
            idx, val = topk(s, k)
            idx += c0
            if best_idx is None:
                best_idx, best_val = idx, val
            else:
                # Merge two sorted top-k lists: rank the 2k candidates again.
                cand_idx = np.concatenate([best_idx, idx], axis=1)
                cand_val = np.concatenate([best_val, val], axis=1)
                sel, best_val = topk(cand_val, k)
                best_idx = np.take_along_axis(cand_idx, sel, axis=1)
        out_idx[r0 : r0 + rows] = best_idx
        out_val[r0 : r0 + rows] = best_val
    return out_idx, out_val


def torch_topk(queries: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The plain torch baseline: q @ keys.T then torch.topk, query blocks under 256 MiB."""
    q, kt = torch.from_numpy(queries), torch.from_numpy(keys)
    rows = max(1, DEFAULT_BLOCK_BYTES // (4 * len(keys)))
    idx, val = [], []
    for r0 in range(0, len(q), rows):
        v, i = torch.topk(q[r0 : r0 + rows] @ kt.T, k, dim=1)
        idx.append(i)
        val.append(v)
    return torch.cat(idx).numpy(), torch.cat(val).numpy()


# ---------------------------------------------------------------------- measuring
def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def hnsw_params(L: int) -> dict:
    if L > 200_000:  # a smaller graph: the default's build takes too long on 2 cores
        return {"M": 16, "ef_construction": 80, "ef_search": 256}
    return {"M": 32, "ef_construction": 200, "ef_search": 256}


def ivf_params(L: int) -> dict:
    nlist = max(1, round(np.sqrt(L)))
    return {"nlist": nlist, "nprobe": max(8, nlist // 8)}


def predict_hnsw_build(keys: np.ndarray, params: dict) -> float:
    """Seconds to build HNSW on all keys, extrapolated (L log L) from a build on 20k keys."""
    n = min(len(keys), 20_000)
    t0 = time.perf_counter()
    LabelIndex("faiss-hnsw", device="cpu", **params).fit(keys[:n])
    t = time.perf_counter() - t0
    return t * (len(keys) / n) * np.log(len(keys)) / np.log(n)


def build(method: str, keys: np.ndarray, args) -> tuple[Callable | None, dict]:
    """(search function or None when skipped, info: build seconds, parameters, skip reason)."""
    L = len(keys)
    info: dict = {"params": {}}
    if method == "old numpy":
        return (lambda q: old_topk_similar(q, keys, K)), info | {"build_s": 0.0}
    if method == "torch matmul+topk":
        return (lambda q: torch_topk(q, keys, K)), info | {"build_s": 0.0}
    backend, params = {
        "labelsphere exact": ("exact", {}),
        "FAISS flat": ("faiss-flat", {}),
        "FAISS HNSW": ("faiss-hnsw", hnsw_params(L)),
        "FAISS IVF": ("faiss-ivf", ivf_params(L)),
    }[method]
    info["params"] = params
    if backend == "faiss-hnsw" and L > 20_000:
        predicted = predict_hnsw_build(keys, params)
        info["predicted_build_s"] = round(predicted, 1)
        if predicted > args.hnsw_max_build:
            info["skipped"] = (
                f"HNSW build predicted at {predicted:.0f} s (> --hnsw-max-build "
                f"{args.hnsw_max_build:.0f} s) from a build on 20k keys"
            )
            print(f"  skipping FAISS HNSW at L={L:,}: {info['skipped']}", flush=True)
            return None, info
    t0 = time.perf_counter()
    index = LabelIndex(backend, device="cpu", **params).fit(keys)
    info["build_s"] = time.perf_counter() - t0
    return (lambda q: index.search(q, K)), info


def run_size(L: int, n_queries: int, args) -> list[dict]:
    rng = np.random.default_rng([args.seed, L])
    keys = unit_rows(rng, L)
    queries = unit_rows(rng, n_queries)
    searches, infos = {}, {}
    for method in METHODS:
        print(f"L={L:,}: building {method}", flush=True)
        fn, info = build(method, keys, args)
        infos[method] = info
        if fn is not None:
            searches[method] = fn
    times: dict[str, list[float]] = {m: [] for m in searches}
    results = {}
    for rep in range(args.repeats):
        for method, fn in searches.items():
            t0 = time.perf_counter()
            idx, _ = fn(queries)
            times[method].append(time.perf_counter() - t0)
            results[method] = idx
            print(
                f"L={L:,} repeat {rep + 1}/{args.repeats}: {method} "
                f"{n_queries / times[method][-1]:,.0f} q/s",
                flush=True,
            )
    exact = results["labelsphere exact"]
    rows = []
    for method in METHODS:
        row = {"labels": L, "queries": n_queries, "method": method} | infos[method]
        if method in times:
            med = statistics.median(times[method])
            row |= {
                "seconds": times[method],
                "median_s": med,
                "queries_per_s": n_queries / med,
                "recall@100": recall_at_k(results[method], exact),
            }
        rows.append(row)
    flat = next(r for r in rows if r["method"] == "FAISS flat")
    for r in rows:
        if "queries_per_s" in r and "queries_per_s" in flat:
            r["vs_faiss_flat"] = r["queries_per_s"] / flat["queries_per_s"]
    return rows


# ---------------------------------------------------------------------- output
def _params_text(r: dict) -> str:
    p = r.get("params") or {}
    return ", ".join(f"{k}={v}" for k, v in p.items())


def markdown(rows: list[dict]) -> str:
    lines = [
        "| labels | method | parameters | build (s) | queries/s | recall@100 | vs FAISS flat |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(
                f"| {r['labels']:,} | {r['method']} | {_params_text(r)} | skipped | "
                f"skipped: {r['skipped']} | | |"
            )
            continue
        lines.append(
            f"| {r['labels']:,} | {r['method']} | {_params_text(r)} | {r['build_s']:.1f} | "
            f"{r['queries_per_s']:,.0f} | {r['recall@100']:.3f} | {r['vs_faiss_flat']:.2f}x |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["labels"] for r in rows})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(METHODS)
    for j, method in enumerate(METHODS):
        xs, ys = [], []
        for i, L in enumerate(sizes):
            r = next(r for r in rows if r["labels"] == L and r["method"] == method)
            if "queries_per_s" in r:
                xs.append(i + (j - (len(METHODS) - 1) / 2) * width)
                ys.append(r["queries_per_s"])
        ax.bar(xs, ys, width, label=method)
    ax.set_xticks(range(len(sizes)), [f"{L:,} labels" for L in sizes])
    ax.set_yscale("log")
    ax.set_ylabel("queries / second (log)")
    ax.set_title(f"Top-{K} decoding, d={DIM}, {rows[0]['queries']:,} queries")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="17k labels and 256 queries only")
    ap.add_argument("--threads", type=int, default=2, help="torch, FAISS and BLAS threads")
    ap.add_argument("--queries", type=int, default=2048)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hnsw-max-build", type=float, default=300.0, help="seconds")
    ap.add_argument("--out", type=Path, default=None, help="JSON path; the PNG goes beside it")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.queries = [SIZES[0]], 256
    out = args.out or (
        Path(tempfile.gettempdir()) / "decode_scale_quick.json"
        if args.quick
        else REPO / "docs" / "benchmarks" / "decode_scale.json"
    )
    import faiss

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = []
    with threadpool_limits(args.threads):
        for L in args.sizes:
            rows += run_size(L, args.queries, args)
    table = markdown(rows)
    print(table)
    for L in args.sizes:
        r = next(r for r in rows if r["labels"] == L and r["method"] == "labelsphere exact")
        if "vs_faiss_flat" in r:
            print(f"L={L:,}: labelsphere exact / FAISS flat = {r['vs_faiss_flat']:.2f}x")
    summary = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "k": K,
        "dim": DIM,
        "queries": args.queries,
        "repeats": args.repeats,
        "seed": args.seed,
        "threads": args.threads,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "note": "shared machine: other jobs ran at the same time",
        },
        "versions": {
            "numpy": np.__version__,
            "torch": torch.__version__,
            "faiss": faiss.__version__,
        },
        "wall_s": time.perf_counter() - t0,
        "rows": rows,
        "table": table,
    }
    write_json(out, summary)
    plot(rows, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()

"""Benchmark: labelsphere's PMI label embedding against the plain dense pipeline, at scale.

Usage (from the repository root)::

    python benchmarks/embedding_scale.py                 # full size, writes docs/benchmarks/
    python benchmarks/embedding_scale.py --quick         # smoke run, small sizes (seconds)
    python benchmarks/embedding_scale.py --dims 128 --repeats 5 --out /tmp/scale.json

Two pipelines turn a multi-hot label matrix Y (n_samples x n_labels, CSR) into label
embeddings E (n_labels x d), d = ``--dims`` (default 256):

* **labelsphere**: ``LabelEmbedding(n_components=d, random_state=0).fit(Y)``. For L > 2,000
  labels the "auto" solver counts co-occurrences sparsely, builds the PMI matrix as a sparse
  matrix and runs a randomized symmetric eigensolver on it: nothing L x L is ever dense.
* **plain**: what one writes with numpy/scikit-learn: ``C = (Y.T @ Y).toarray()`` (sparse
  product, then dense), dense PMI ``log(C_ij N / (c_i c_j))`` with never co-occurring pairs
  (log 0 = -inf) set to 0 and zero-count labels zeroed (the diagonal is then log(N / c_i), the
  self-information, because C_ii = c_i), then
  ``sklearn.utils.extmath.randomized_svd(PMI, n_components=d, random_state=0)`` and
  ``E = U * sqrt(S)``. The PMI is computed in place, in row blocks, so the baseline holds one
  dense L x L array and nothing more: its time and memory are those of a careful
  implementation, not of a naive one with several L x L temporaries. It runs in float64, or in
  float32 when float64 would not fit in the memory available (checked from /proc/meminfo
  before each run; ``--plain-dtype`` forces one), or is reported as ``skipped: memory``.

Data sets
---------
1. **Synthetic power-law labels with latent topics** (seeded, ``--seed``, default 0; built in
   well under a second by vectorised numpy, see ``generate_synthetic``): L = 17,000 labels,
   N = 300,000 training samples plus 2,000 held-out samples, 500 latent topics.

   * Label popularity follows a Zipf law, p_l proportional to 1 / rank^1.0, over a random
     permutation of the label ids. Each label belongs to one topic (uniformly at random, ~34
     labels per topic); topic popularity is Zipf with exponent 0.8.
   * Each sample picks 1 or 2 topics (probability 1/2 each), then makes 1 + Poisson(7) label
     draws: 90% from one of its topics (chosen uniformly among the sample's topics; within a
     topic labels are drawn in proportion to their global popularity), 10% from the global
     Zipf distribution (noise). Repeated draws collapse to one label, which leaves about 6
     distinct labels per sample on average.

   So labels co-occur in a structured, low-rank-plus-noise way, as in real tag data. The
   realised statistics (labels used, mean labels per sample, co-occurring pairs) are printed
   and stored in the JSON.
2. **debian-depends** (real): each Debian package's dependency list as its label set, 55,851
   samples and 35,437 labels (``min_count=1``), read from ``<data-dir>/debian-depends/
   depends.jsonl.gz``. ``--data-dir`` defaults to ``$LABELSPHERE_DATA`` or ``../shared/data``
   next to the repository. ``labelsphere.data.load_dataset`` is used when it exists and returns
   a multi-hot matrix; otherwise the script parses the file itself. The dense plain pipeline
   needs an L x L array here: 10 GB in float64.

Timing
------
Each repeat runs each pipeline once, in a fresh worker process (this script re-invoked with
the hidden ``--worker`` flag), and the order alternates from repeat to repeat (labelsphere
first on even repeats, plain first on odd ones), so slow drifts on a shared machine hit both
sides alike. The time is the wall-clock of the pipeline only (from the CSR matrix in memory to
E), not of the process start, imports or data loading. The table gives medians over
``--repeats`` and the median of the per-repeat ratios labelsphere / plain (measured side by
side, so less noisy than the ratio of medians, which the JSON also holds).

BLAS threads are left at the library default (OpenBLAS: one per core) unless
``--blas-threads N`` is given. On a small machine shared with other work that matters: when
another process holds a core, multi-threaded OpenBLAS can slow down many times over (a
3,000 x 384 QR went from 0.08 s to 5.7 s in a trial here), and it hits many medium-sized
calls (labelsphere's QRs) harder than a few huge GEMMs (the plain pipeline).
``--blas-threads 1`` gives steadier, contention-proof numbers.

Peak memory
-----------
Each measurement runs in a fresh worker process, which imports everything and loads Y first.
It then resets the kernel's resident-set high-water mark of the process (writing ``5`` to
``/proc/self/clear_refs``), reads the current resident set (``VmRSS`` in
``/proc/self/status``) as the baseline, runs the pipeline and reads the high-water mark
(``VmHWM``). ``peak extra RSS = VmHWM - baseline`` is the extra memory the pipeline held at
its peak, whoever allocated it: most of it comes from scipy's C++ sparse code, BLAS and LAPACK,
which tracemalloc only partly sees, so RSS is used rather than tracemalloc.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is not used for the difference (it is still
recorded, for reference) because on Linux it is not a per-process measure after fork + exec:
the kernel carries the parent's high-water mark into the child's ``ru_maxrss``, so a worker
started by a parent that had already used, say, 300 MiB reports at least 300 MiB whatever it
does, and ``ru_maxrss(after) - ru_maxrss(before)`` under-reports (a 72 MiB dense array showed
up as +4 MiB in a trial). Where ``/proc`` is unavailable (not Linux) the script falls back to
that ru_maxrss difference and says so in the JSON (``memory_method``). A fresh process per
measurement also keeps allocator caches of an earlier run from hiding later allocations.

Quality check
-------------
A speedup bought with worse embeddings would not count, so both embeddings are scored by
their *oracle* precision: a sample's label set is encoded as the L2-normalised sum of its
labels' rows of E and decoded back by inner product with every label
(``labelsphere.decode.topk_similar``, top 5): P@1 and P@5 against the true set. On the
synthetic data this uses the 2,000 held-out samples; on debian-depends (no split) 2,000
random packages with at least one dependency. The embeddings of the first repeat are scored.

Output: a markdown table on stdout, the JSON (``--out``) with every raw timing, medians,
ratios, peak memory, data set statistics and machine information, and a PNG bar chart of the
median times next to the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("labelsphere", "plain")

# Full-size synthetic data set, and the --quick smoke size.
FULL = {"n_samples": 300_000, "n_labels": 17_000, "n_topics": 500, "n_heldout": 2_000}
QUICK = {"n_samples": 20_000, "n_labels": 3_000, "n_topics": 100, "n_heldout": 500}
QUICK_REAL_LABELS = 3_000  # --quick keeps only debian-depends' most frequent labels
N_EVAL_REAL = 2_000
TOPK = 5


# ----------------------------------------------------------------------------- data
def generate_synthetic(
    n_samples: int,
    n_labels: int,
    n_topics: int,
    seed: int = 0,
    zipf_labels: float = 1.0,
    zipf_topics: float = 0.8,
    extra_draws: float = 7.0,
    p_noise: float = 0.1,
) -> sp.csr_matrix:
    """Power-law multi-hot labels with latent topics (see the module docstring), CSR int8."""
    rng = np.random.default_rng(seed)
    L, T, n = n_labels, n_topics, n_samples
    pop = 1.0 / np.arange(1, L + 1, dtype=np.float64) ** zipf_labels
    pop = pop[rng.permutation(L)]
    topic_of = rng.integers(0, T, L)
    # Labels sorted by topic; topic t's within-topic CDF occupies the interval (t, t + 1], so a
    # single searchsorted of (topic + uniform) draws a label from any sample's topic at once.
    order = np.lexsort((-pop, topic_of))
    w = pop[order]
    topic_mass = np.bincount(topic_of, weights=pop, minlength=T)
    topic_cdf = np.cumsum(w / topic_mass[topic_of[order]])
    tcdf = np.cumsum((1.0 / np.arange(1, T + 1) ** zipf_topics)[rng.permutation(T)])
    tcdf /= tcdf[-1]
    gcdf = np.cumsum(pop)
    gcdf /= gcdf[-1]

    n_topics_per_sample = rng.integers(1, 3, n)  # 1 or 2
    topics = np.minimum(np.searchsorted(tcdf, rng.random((n, 2)), side="right"), T - 1)
    draws = 1 + rng.poisson(extra_draws, n)
    rows = np.repeat(np.arange(n), draws)
    m = rows.size
    pick = rng.integers(0, 2, m) * (n_topics_per_sample[rows] == 2)
    u = topics[rows, pick] + rng.random(m)
    labels = order[np.minimum(np.searchsorted(topic_cdf, u, side="right"), L - 1)]
    noise = rng.random(m) < p_noise
    labels[noise] = np.minimum(
        np.searchsorted(gcdf, rng.random(int(noise.sum())), side="right"), L - 1
    )
    Y = sp.csr_matrix((np.ones(m, dtype=np.int32), (rows, labels)), shape=(n, L))
    Y.sum_duplicates()
    Y.data[:] = 1
    Y = Y.astype(np.int8)
    Y.sort_indices()
    return Y


def label_stats(Y: sp.csr_matrix) -> dict[str, Any]:
    """N, L, labels used, mean labels per sample and co-occurring label pairs (i < j)."""
    c = np.bincount(Y.indices, minlength=Y.shape[1])
    Yf = Y.astype(np.float32)
    pairs = sp.triu(Yf.T @ Yf, k=1).nnz
    return {
        "n_samples": int(Y.shape[0]),
        "n_labels": int(Y.shape[1]),
        "labels_used": int((c > 0).sum()),
        "mean_labels_per_sample": float(Y.nnz / max(Y.shape[0], 1)),
        "cooccurring_pairs": int(pairs),
        "nnz": int(Y.nnz),
    }


def default_data_dir() -> Path:
    env = os.environ.get("LABELSPHERE_DATA")
    return Path(env) if env else (REPO_ROOT / ".." / "shared" / "data").resolve()


def _as_multihot(obj: Any) -> sp.csr_matrix | None:
    """Find the multi-hot label matrix in whatever ``load_dataset`` returned (or None)."""
    if sp.issparse(obj):
        return sp.csr_matrix(obj)
    if isinstance(obj, dict):
        for key in ("Y", "y", "labels"):
            if key in obj:
                return _as_multihot(obj[key])
    for attr in ("Y", "y", "labels"):
        if hasattr(obj, attr):
            found = _as_multihot(getattr(obj, attr))
            if found is not None:
                return found
    if isinstance(obj, (tuple, list)) and 0 < len(obj) <= 4:
        for item in obj:
            if sp.issparse(item):
                return sp.csr_matrix(item)
    return None


def load_debian(data_dir: Path) -> tuple[sp.csr_matrix, str]:
    """debian-depends as a CSR multi-hot matrix and the name of the loader that produced it."""
    try:
        from labelsphere.data import load_dataset  # type: ignore[import-not-found]

        Y = _as_multihot(load_dataset("debian-depends", split="all", data_dir=data_dir))
        if Y is not None:
            return Y.astype(np.int8), "labelsphere.data.load_dataset"
    except ImportError:
        pass
    from labelsphere.labels import LabelVocabulary

    path = data_dir / "debian-depends" / "depends.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lists = [json.loads(line)["depends"] for line in f if line.strip()]
    vocab = LabelVocabulary.from_lists(lists, min_count=1)
    return vocab.encode(lists), "parsed depends.jsonl.gz (LabelVocabulary, min_count=1)"


# ----------------------------------------------------------------------------- pipelines
def labelsphere_embedding(Y: sp.csr_matrix, d: int) -> np.ndarray:
    from labelsphere import LabelEmbedding

    return LabelEmbedding(n_components=d, random_state=0).fit(Y).embeddings_


def labelsphere_fingerprint(d: int) -> dict[str, Any]:
    """The estimator's parameters in effect and a hash of the fitting code (drift detection)."""
    import hashlib

    import labelsphere.cooccurrence
    import labelsphere.embedding
    from labelsphere import LabelEmbedding

    h = hashlib.sha256()
    for mod in (labelsphere.embedding, labelsphere.cooccurrence):
        h.update(Path(str(mod.__file__)).read_bytes())
    params = LabelEmbedding(n_components=d, random_state=0).get_params()
    return {"params": {k: repr(v) for k, v in params.items()}, "source_sha256": h.hexdigest()[:16]}


def plain_embedding(Y: sp.csr_matrix, d: int, dtype: str = "float64") -> np.ndarray:
    """Dense co-occurrence -> dense PMI (in place, row blocks) -> randomized_svd -> U sqrt(S)."""
    from sklearn.utils.extmath import randomized_svd

    Yf = Y.astype(dtype)
    N = Y.shape[0]
    C = (Yf.T @ Yf).toarray()  # L x L dense; from here on C holds the PMI
    del Yf
    c = C.diagonal().copy()  # label counts c_i = C_ii
    c_safe = np.where(c > 0, c, 1).astype(dtype)  # zero-count labels: all-zero rows anyway
    inv_c = (1.0 / c_safe).astype(dtype)
    L = C.shape[0]
    block = max(1, (64 << 20) // max(C.itemsize * L, 1))  # ~64 MiB of rows at a time
    for r0 in range(0, L, block):
        B = C[r0 : r0 + block]
        B *= (N * inv_c[r0 : r0 + block])[:, None]
        B *= inv_c[None, :]
        # log(C N / c_i c_j) where the pair co-occurs; log 0 = -inf pairs (and zero-count
        # labels' rows/columns) are left at 0. The diagonal becomes log(N / c_i).
        np.log(B, out=B, where=B > 0)
    U, S, _ = randomized_svd(C, n_components=d, random_state=0)
    return (U * np.sqrt(S)[None, :]).astype(np.float32)


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) * (1 if sys.platform == "darwin" else 1024)  # KiB on Linux


def _proc_status_bytes(*keys: str) -> dict[str, int] | None:
    """``VmRSS``/``VmHWM`` etc. of this process from /proc/self/status (Linux), in bytes."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in keys:
            out[name] = int(rest.split()[0]) * 1024  # kB
    return out if len(out) == len(keys) else None


def _reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _proc_status_bytes("VmRSS", "VmHWM") is not None


def worker_main(args: argparse.Namespace) -> None:
    """Hidden ``--worker`` mode: one pipeline, one timing, one peak-memory reading."""
    from sklearn.utils.extmath import randomized_svd  # noqa: F401  (import before baseline)

    import labelsphere.embedding  # noqa: F401

    Y = sp.load_npz(args.worker_y).tocsr()
    use_proc = _reset_peak_rss()
    status = _proc_status_bytes("VmRSS", "VmHWM") if use_proc else None
    base_maxrss = _maxrss_bytes()
    base = status["VmRSS"] if status else base_maxrss
    t0 = time.perf_counter()
    if args.worker == "labelsphere":
        E = labelsphere_embedding(Y, args.dims)
    else:
        E = plain_embedding(Y, args.dims, args.worker_dtype)
    seconds = time.perf_counter() - t0
    after = _proc_status_bytes("VmRSS", "VmHWM") if use_proc else None
    peak = after["VmHWM"] if after else _maxrss_bytes()
    if args.worker_emb:
        np.save(args.worker_emb, np.ascontiguousarray(E, dtype=np.float32))
    result = {
        "seconds": seconds,
        "peak_extra_bytes": max(peak - base, 0),
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": base,
        "memory_method": "VmHWM - VmRSS (clear_refs reset)" if after else "ru_maxrss delta",
        "ru_maxrss_before_bytes": base_maxrss,
        "ru_maxrss_after_bytes": _maxrss_bytes(),
        "embedding_shape": list(E.shape),
        "labelsphere": labelsphere_fingerprint(args.dims),
    }
    Path(args.worker_out).write_text(json.dumps(result))


def run_worker(
    pipeline: str,
    y_path: Path,
    d: int,
    dtype: str,
    tmp: Path,
    save_emb: Path | None,
    blas_threads: int | None = None,
) -> dict[str, Any]:
    out = tmp / f"result-{pipeline}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        pipeline,
        "--worker-y",
        str(y_path),
        "--worker-out",
        str(out),
        "--worker-dtype",
        dtype,
        "--dims",
        str(d),
    ]
    if save_emb is not None:
        cmd += ["--worker-emb", str(save_emb)]
    env = dict(os.environ)
    if blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(blas_threads)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{pipeline} worker failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return json.loads(out.read_text())


# ----------------------------------------------------------------------------- measuring
def mem_available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def choose_plain_dtype(L: int, d: int, forced: str) -> tuple[str | None, str]:
    """float64 if it fits in the available memory, else float32, else None (skip)."""
    avail = mem_available_bytes()
    margin = 2 << 30  # leave 2 GiB to the rest of the machine
    candidates = ("float64", "float32") if forced == "auto" else (forced,)
    for dtype in candidates:
        item = np.dtype(dtype).itemsize
        # The dense L x L array, randomized_svd's L x (d + 10) blocks (a few), slack.
        need = item * L * L + 6 * item * L * (d + 10) + (256 << 20)
        if avail is None or need + margin <= avail:
            note = f"{dtype}: needs ~{need / 2**30:.1f} GiB"
            if avail is not None:
                note += f" of {avail / 2**30:.1f} GiB available"
            return dtype, note
    return None, (
        f"skipped: memory (float32 alone needs {4 * L * L / 2**30:.1f} GiB, "
        f"{(avail or 0) / 2**30:.1f} GiB available)"
    )


def oracle_precision(E: np.ndarray, Y: sp.csr_matrix, k: int = TOPK) -> dict[str, float]:
    """Encode each label set as the normalised sum of its rows of E, decode top-k: P@1, P@k."""
    from labelsphere.decode import topk_similar

    Y = Y[np.diff(Y.indptr) > 0]
    E = np.asarray(E, dtype=np.float32)
    T = np.asarray(Y.astype(np.float32) @ E, dtype=np.float32)
    norms = np.linalg.norm(T, axis=1, keepdims=True)
    T = T / np.maximum(norms, 1e-12)
    idx, _ = topk_similar(T, E, k)
    hits = np.zeros(idx.shape, dtype=bool)
    for i in range(Y.shape[0]):
        true = Y.indices[Y.indptr[i] : Y.indptr[i + 1]]
        hits[i] = np.isin(idx[i], true)
    best = np.minimum(np.diff(Y.indptr), k) / k  # the most P@k can be (fewer labels than k)
    return {
        "p_at_1": float(hits[:, 0].mean()),
        f"p_at_{k}": float(hits.sum(axis=1).mean() / k),
        f"p_at_{k}_max_possible": float(best.mean()),
        "n_eval": int(Y.shape[0]),
    }


def benchmark(
    name: str,
    Y: sp.csr_matrix,
    Y_eval: sp.csr_matrix,
    d: int,
    repeats: int,
    plain_dtype: str,
    tmp: Path,
    blas_threads: int | None = None,
) -> dict[str, Any]:
    y_path = tmp / f"{name}-Y.npz"
    sp.save_npz(y_path, Y, compressed=False)
    dtype, dtype_note = choose_plain_dtype(Y.shape[1], d, plain_dtype)
    raw: dict[str, list[dict[str, Any]]] = {p: [] for p in PIPELINES}
    quality: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    if dtype is None:
        skipped["plain"] = dtype_note
    print(f"[{name}] plain pipeline: {dtype_note}", flush=True)
    steps = [
        (r, p)
        for r in range(repeats)
        for p in (PIPELINES if r % 2 == 0 else PIPELINES[::-1])
        if p not in skipped
    ]
    for r, p in tqdm(steps, desc=f"{name}: fits", unit="fit"):
        emb_path = tmp / f"{name}-{p}-E.npy" if r == 0 else None
        res = run_worker(p, y_path, d, dtype or "float64", tmp, emb_path, blas_threads)
        res["repeat"] = r
        raw[p].append(res)
        tqdm.write(
            f"  repeat {r} {p:11s} {res['seconds']:8.2f} s  "
            f"peak +{res['peak_extra_bytes'] / 2**20:8.0f} MiB"
        )
        if emb_path is not None:
            quality[p] = oracle_precision(np.load(emb_path), Y_eval)
            emb_path.unlink()
    y_path.unlink()

    summary: dict[str, Any] = {}
    for p in PIPELINES:
        runs = raw[p]
        if not runs:
            summary[p] = {"skipped": skipped.get(p, "not run")}
            continue
        secs = [x["seconds"] for x in runs]
        summary[p] = {
            "seconds": secs,
            "median_seconds": float(np.median(secs)),
            "peak_extra_mib": [x["peak_extra_bytes"] / 2**20 for x in runs],
            "median_peak_extra_mib": float(np.median([x["peak_extra_bytes"] for x in runs]))
            / 2**20,
            "max_peak_extra_mib": max(x["peak_extra_bytes"] for x in runs) / 2**20,
            "quality": quality.get(p),
            "raw": runs,
        }
    prints = {json.dumps(x["labelsphere"], sort_keys=True) for p in PIPELINES for x in raw[p]}
    summary["labelsphere_code"] = [json.loads(x) for x in sorted(prints)]
    if len(prints) > 1:
        summary["warning"] = "labelsphere's code or defaults changed during this run"
        print(f"[{name}] WARNING: {summary['warning']}", flush=True)
    summary["plain"]["dtype"] = dtype
    summary["plain"]["dtype_note"] = dtype_note
    if raw["plain"]:
        ratios = [
            a["seconds"] / b["seconds"]
            for a, b in zip(
                sorted(raw["labelsphere"], key=lambda x: x["repeat"]),
                sorted(raw["plain"], key=lambda x: x["repeat"]),
                strict=True,
            )
        ]
        summary["ratio_per_repeat"] = ratios
        summary["median_ratio"] = float(np.median(ratios))
        summary["ratio_of_medians"] = (
            summary["labelsphere"]["median_seconds"] / summary["plain"]["median_seconds"]
        )
        summary["memory_ratio"] = (
            summary["labelsphere"]["max_peak_extra_mib"] / summary["plain"]["max_peak_extra_mib"]
        )
    return summary


# ----------------------------------------------------------------------------- reporting
def markdown_table(results: dict[str, Any], d: int) -> str:
    lines = [
        f"| data set | N | L | pipeline | median time (s) | per-repeat times (s) | "
        f"peak extra RSS (MiB) | P@1 | P@{TOPK} |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|",
    ]
    for name, res in results["datasets"].items():
        st = res["stats"]
        for p in PIPELINES:
            s = res[p]
            label = p if p == "labelsphere" else f"plain ({s.get('dtype')})"
            if "skipped" in s:
                lines.append(
                    f"| {name} | {st['n_samples']:,} | {st['n_labels']:,} | plain | "
                    f"{s['skipped']} | | | | |"
                )
                continue
            q = s.get("quality") or {}
            lines.append(
                f"| {name} | {st['n_samples']:,} | {st['n_labels']:,} | {label} | "
                f"{s['median_seconds']:.2f} | {', '.join(f'{x:.2f}' for x in s['seconds'])} | "
                f"{s['max_peak_extra_mib']:,.0f} | {q.get('p_at_1', float('nan')):.3f} | "
                f"{q.get(f'p_at_{TOPK}', float('nan')):.3f} |"
            )
        if "median_ratio" in res:
            target = "met" if res["median_ratio"] <= 0.2 else "NOT met"
            lines.append(
                f"| {name} | | | **labelsphere / plain** | **{res['median_ratio']:.3f}×** "
                f"(median of per-repeat ratios; ≤ 0.2 target {target} at d={d}) | "
                f"{', '.join(f'{x:.3f}' for x in res['ratio_per_repeat'])} | "
                f"{res['memory_ratio']:.3f}× | | |"
            )
    notes = []
    for name, res in results["datasets"].items():
        for code in res.get("labelsphere_code", []):
            params = ", ".join(f"{k}={v.strip(chr(39))}" for k, v in sorted(code["params"].items()))
            notes.append(f"{name}: labelsphere {params} (code {code['source_sha256']})")
        if res.get("warning"):
            notes.append(f"{name}: WARNING: {res['warning']}")
    notes.append(
        "plain: dense PMI with diagonal log(N/c_i), randomized_svd defaults (n_oversamples=10, "
        "n_iter='auto'), E = U sqrt(S); oracle P@k decodes by dot product for both."
    )
    return "\n".join(lines + [""] + [f"- {n}" for n in notes])


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["datasets"])
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    width = 0.38
    colors = {"labelsphere": "#1f77b4", "plain": "#aaaaaa"}
    for k, p in enumerate(PIPELINES):
        vals = [results["datasets"][n][p].get("median_seconds", np.nan) for n in names]
        xs = np.arange(len(names)) + (k - 0.5) * width
        bars = ax.bar(xs, vals, width, label=p, color=colors[p])
        for b, v in zip(bars, vals, strict=True):
            txt = "skipped" if np.isnan(v) else f"{v:.1f}s"
            ax.annotate(
                txt,
                (b.get_x() + b.get_width() / 2, 0 if np.isnan(v) else v),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(
        [
            f"{n}\nL={results['datasets'][n]['stats']['n_labels']:,}, "
            f"N={results['datasets'][n]['stats']['n_samples']:,}"
            for n in names
        ],
        fontsize=8,
    )
    ax.set_ylabel("median fit time (s)")
    ax.set_title(f"PMI label embedding, d={results['config']['dims']}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    avail = mem_available_bytes()
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total_gib": None if total is None else round(total / 2**30, 1),
        "mem_available_gib_at_start": None if avail is None else round(avail / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/embedding_scale.json")
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    ap.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    ap.add_argument("--skip-real", action="store_true", help="synthetic data only")
    ap.add_argument(
        "--plain-dtype",
        choices=("auto", "float64", "float32"),
        default="auto",
        help="dtype of the dense plain pipeline (auto: float64 if it fits in memory)",
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="set OPENBLAS/OMP/MKL_NUM_THREADS in the workers (default: library default)",
    )
    # Hidden worker mode (one pipeline in a fresh process, for peak-memory measurement).
    ap.add_argument("--worker", choices=PIPELINES, help=argparse.SUPPRESS)
    ap.add_argument("--worker-y", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    ap.add_argument("--worker-emb", help=argparse.SUPPRESS)
    ap.add_argument("--worker-dtype", default="float64", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(args)
        return
    size = QUICK if args.quick else FULL
    d = args.dims
    results: dict[str, Any] = {
        "config": {
            "dims": d,
            "repeats": args.repeats,
            "seed": args.seed,
            "quick": args.quick,
            "blas_threads": args.blas_threads or "library default",
            "synthetic": {
                **size,
                "zipf_labels": 1.0,
                "zipf_topics": 0.8,
                "draws": "1+Poisson(7)",
                "topics_per_sample": "1 or 2",
                "p_noise": 0.1,
            },
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
        },
        "machine": machine_info(),
        "datasets": {},
    }
    print(json.dumps(results["machine"], indent=1), flush=True)

    with tempfile.TemporaryDirectory(prefix="labelsphere-bench-") as tmpdir:
        tmp = Path(tmpdir)

        # 1. synthetic
        t0 = time.perf_counter()
        Y_all = generate_synthetic(
            size["n_samples"] + size["n_heldout"], size["n_labels"], size["n_topics"], args.seed
        )
        gen_s = time.perf_counter() - t0
        Y, Y_held = Y_all[: size["n_samples"]], Y_all[size["n_samples"] :]
        del Y_all
        stats = label_stats(Y)
        stats["generation_seconds"] = gen_s
        print(f"synthetic: generated in {gen_s:.2f} s: {json.dumps(stats)}", flush=True)
        res = benchmark(
            "synthetic", Y, Y_held, d, args.repeats, args.plain_dtype, tmp, args.blas_threads
        )
        res["stats"] = stats
        res["quality_eval"] = f"{Y_held.shape[0]:,} held-out synthetic samples"
        results["datasets"]["synthetic"] = res
        del Y, Y_held

        # 2. debian-depends
        if args.skip_real:
            print("debian-depends: skipped (--skip-real)")
        else:
            deb_path = args.data_dir / "debian-depends" / "depends.jsonl.gz"
            if not deb_path.exists() and not args.data_dir.exists():
                print(f"debian-depends: skipped (no data at {args.data_dir})")
            else:
                t0 = time.perf_counter()
                Yd, loader = load_debian(args.data_dir)
                load_s = time.perf_counter() - t0
                if args.quick:
                    Yd = Yd[:, :QUICK_REAL_LABELS]  # the vocabulary is ordered by frequency
                stats = label_stats(Yd)
                stats["load_seconds"] = load_s
                stats["loader"] = loader
                print(f"debian-depends: loaded in {load_s:.1f} s: {json.dumps(stats)}", flush=True)
                rng = np.random.default_rng(args.seed)
                nonempty = np.flatnonzero(np.diff(Yd.indptr) > 0)
                ev = np.sort(rng.choice(nonempty, min(N_EVAL_REAL, nonempty.size), replace=False))
                res = benchmark(
                    "debian-depends",
                    Yd,
                    Yd[ev],
                    d,
                    args.repeats,
                    args.plain_dtype,
                    tmp,
                    args.blas_threads,
                )
                res["stats"] = stats
                res["quality_eval"] = (
                    f"{ev.size:,} random packages with >= 1 dependency (in-sample: no split)"
                )
                results["datasets"]["debian-depends"] = res

    table = markdown_table(results, d)
    results["table_markdown"] = table
    print()
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    png = out.with_suffix(".png")
    plot(results, png)
    print(f"\nwrote {out} and {png}")


if __name__ == "__main__":
    main()

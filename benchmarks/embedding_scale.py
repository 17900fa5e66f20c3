"""Benchmark: fitting PMI label embeddings and counting co-occurrences at 17k, 100k and 1M labels.

Usage (from the repository root)::

    python benchmarks/embedding_scale.py                        # 17k and 100k labels
    python benchmarks/embedding_scale.py --sizes 17k 100k 1m    # and 1M (tens of minutes)
    python benchmarks/embedding_scale.py --quick                # smoke run (3k labels)

Writes the markdown table to stdout, the JSON to ``--out`` (default
``docs/benchmarks/embedding_scale.json``) and a PNG beside it.

Data
----
Seeded power-law labels with latent topics (``generate_synthetic``; ``--seed``, default 0),
generated in chunks of a million samples so that even 20M samples fit in memory:

=====  ============  ==========  ========
size   labels (L)    samples N   topics
=====  ============  ==========  ========
17k    17,000        300,000     500
100k   100,000       2,000,000   3,000
1m     1,000,000     20,000,000  29,400
=====  ============  ==========  ========

Label popularity is Zipf (exponent 1) over a random permutation of the ids; each label belongs
to one topic (about 34 labels per topic), topic popularity is Zipf (0.8). Each sample picks 1
or 2 topics, then 1 + Poisson(7) label draws, 90% from its topics (in proportion to label
popularity), 10% from the global Zipf law; repeats collapse, leaving ~6 labels per sample.

Contenders (each fit in its own fresh process, the order alternating between repeats)
-----------------------------------------------------------------------------------
* **labelsphere**: ``LabelEmbedding(n_components=d, random_state=0, n_iter=...).fit(Y)``:
  exact int64 counts (upper triangle, int32 indices), float32 PMI sharing the counts' indices,
  randomized block Krylov on the upper triangle (``--ls-iter``, default: the library default).
* **plain**: what one writes with scipy + scikit-learn: ``C = Yf.T @ Yf`` (float64 sparse),
  ``C.data = log(C_ij N / (c_i c_j))`` on the co-occurring pairs (the same PMI as labelsphere's
  defaults: ``pmi="zero"``, zero diagonal), then ``randomized_svd(C, d, n_iter=...,
  random_state=0)`` (``--plain-iter``, default 4) and ``E = U sqrt(S)``.

Both produce the PMI matrix M's top-d eigenpairs by magnitude. **Subspace accuracy** is measured
the same way for both, in a separate process, from the saved embedding alone: the columns of E
normalised are the eigenvector estimates V, the Rayleigh quotients ``lambda_i = v_i^T M v_i``
their eigenvalues, and the residual is ``||M V - V Lambda||_F / ||Lambda||_F`` (float64, M
built by labelsphere from the same counts; both pipelines' PMI is the same matrix).

Time is the wall clock of the fit in the worker (from the CSR matrix in memory to E), and its
CPU time (``time.process_time``): on a shared machine the CPU time is the steadier of the two.
Peak memory is the worker's resident-set high-water mark over its baseline after loading Y
(``VmHWM - VmRSS`` after resetting the mark through ``/proc/self/clear_refs``).

Counting throughput
-------------------
The training labels are written as ``--n-shards`` JSONL shards of label names; then
``labelsphere.counting.count_shards`` counts them (with the vocabulary given, so that counters
merge) in 1 process, and in 2 processes each counting half the shards, whose saved counters the
parent loads and merges. Samples per second = N / time, the time being the slowest worker's
``count_shards`` call (reading, parsing, encoding, counting, saving its counter) plus, for 2
processes, loading and merging the two counters; process start-up and imports are excluded
(recorded in the JSON). The merged counts are checked equal to the 1-process counts.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
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
import scipy
import scipy.sparse as sp
import sklearn

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("labelsphere", "plain")
SIZES = {
    "quick": {"n_labels": 3_000, "n_samples": 30_000, "n_topics": 90},
    "17k": {"n_labels": 17_000, "n_samples": 300_000, "n_topics": 500},
    "100k": {"n_labels": 100_000, "n_samples": 2_000_000, "n_topics": 3_000},
    "1m": {"n_labels": 1_000_000, "n_samples": 20_000_000, "n_topics": 29_400},
}


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
    chunk: int = 1_000_000,
) -> sp.csr_matrix:
    """Power-law multi-hot labels with latent topics (module docstring), CSR int8, int32 indices."""
    rng = np.random.default_rng(seed)
    L, T = n_labels, n_topics
    pop = 1.0 / np.arange(1, L + 1, dtype=np.float64) ** zipf_labels
    pop = pop[rng.permutation(L)]
    topic_of = rng.integers(0, T, L)
    # Labels sorted by topic; topic t's within-topic CDF occupies (t, t + 1], so one
    # searchsorted of (topic + uniform) draws a label from any sample's topic at once.
    order = np.lexsort((-pop, topic_of))
    w = pop[order]
    topic_mass = np.bincount(topic_of, weights=pop, minlength=T)
    topic_cdf = np.cumsum(w / topic_mass[topic_of[order]])
    tcdf = np.cumsum((1.0 / np.arange(1, T + 1) ** zipf_topics)[rng.permutation(T)])
    tcdf /= tcdf[-1]
    gcdf = np.cumsum(pop)
    gcdf /= gcdf[-1]
    del pop, topic_of, w
    parts = []
    for c0 in range(0, n_samples, chunk):
        n = min(chunk, n_samples - c0)
        r = np.random.default_rng([seed, 1 + c0 // chunk])
        n_topics_per_sample = r.integers(1, 3, n)  # 1 or 2
        topics = np.minimum(np.searchsorted(tcdf, r.random((n, 2)), side="right"), T - 1)
        draws = 1 + r.poisson(extra_draws, n)
        rows = np.repeat(np.arange(n, dtype=np.int32), draws)
        m = rows.size
        pick = r.integers(0, 2, m) * (n_topics_per_sample[rows] == 2)
        u = topics[rows, pick] + r.random(m)
        labels = order[np.minimum(np.searchsorted(topic_cdf, u, side="right"), L - 1)]
        noise = r.random(m) < p_noise
        labels[noise] = np.minimum(
            np.searchsorted(gcdf, r.random(int(noise.sum())), side="right"), L - 1
        )
        Y = sp.csr_matrix(
            (np.ones(m, dtype=np.int8), (rows, labels.astype(np.int32))), shape=(n, L)
        )
        Y.sum_duplicates()
        Y.data[:] = 1
        parts.append(Y)
    Y = sp.vstack(parts, format="csr")
    Y.sort_indices()
    return Y


# ----------------------------------------------------------------------------- pipelines
def labelsphere_embedding(Y: sp.csr_matrix, d: int, n_iter: int | None) -> np.ndarray:
    from labelsphere import LabelEmbedding

    kw = {} if n_iter is None else {"n_iter": n_iter}
    return LabelEmbedding(n_components=d, random_state=0, **kw).fit(Y).embeddings_


def plain_embedding(Y: sp.csr_matrix, d: int, n_iter: int) -> np.ndarray:
    """scipy sparse PMI of the co-occurring pairs (zero diagonal) + sklearn randomized_svd."""
    from sklearn.utils.extmath import randomized_svd

    N, L = Y.shape
    Yf = Y.astype(np.float64)
    C = (Yf.T @ Yf).tocsr()
    del Yf
    c = C.diagonal().copy()
    rows = np.repeat(np.arange(L, dtype=np.int32), np.diff(C.indptr))
    C.data = np.log(C.data * (N / (c[rows] * c[C.indices])))
    C.data[rows == C.indices] = 0.0  # labelsphere's default diagonal
    del rows
    C.eliminate_zeros()
    U, S, _ = randomized_svd(C, n_components=d, n_iter=n_iter, random_state=0)
    return (U * np.sqrt(S)[None, :]).astype(np.float32)


def _proc_status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(rest.split()[0]) * 1024
    return out


def worker_fit(args: argparse.Namespace) -> None:
    """Hidden worker: one fit, its wall and CPU time and peak extra RSS; saves E."""
    from sklearn.utils.extmath import randomized_svd  # noqa: F401  (imported before baseline)

    import labelsphere.embedding  # noqa: F401

    Y = sp.load_npz(args.worker_y).tocsr()
    Path("/proc/self/clear_refs").write_text("5")
    base = _proc_status()["VmRSS"]
    t0, c0 = time.perf_counter(), time.process_time()
    if args.worker == "labelsphere":
        E = labelsphere_embedding(Y, args.dims, args.ls_iter)
    else:
        E = plain_embedding(Y, args.dims, args.plain_iter)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _proc_status()["VmHWM"]
    np.save(args.worker_emb, np.ascontiguousarray(E, dtype=np.float32))
    Path(args.worker_out).write_text(
        json.dumps(
            {"seconds": seconds, "cpu_seconds": cpu, "peak_extra_bytes": max(peak - base, 0)}
        )
    )


def worker_residual(args: argparse.Namespace) -> None:
    """Hidden worker: the eigen-residual of each saved embedding on the same PMI matrix."""
    from labelsphere import CooccurrenceCounter
    from labelsphere.embedding.pmi import _pmi_upper, _PMIOperator

    Y = sp.load_npz(args.worker_y).tocsr()
    counts = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y)
    del Y
    upper, offset = _pmi_upper(counts, "zero", "zero")
    op = _PMIOperator(upper, offset, counts.label_counts_ > 0)
    del counts, upper
    out = {}
    for path in args.worker_emb.split(","):
        E = np.load(path)
        num, lam2, cols = 0.0, 0.0, []
        for a in range(0, E.shape[1], 32):  # column chunks: float64 temporaries stay small
            V = E[:, a : a + 32].astype(np.float64)
            V /= np.maximum(np.linalg.norm(V, axis=0), 1e-300)
            MV = op.matmat(V)
            lam = np.einsum("ij,ij->j", V, MV)
            MV -= V * lam
            r = np.linalg.norm(MV, axis=0)
            num += float(np.sum(r**2))
            lam2 += float(np.sum(lam**2))
            cols.extend((r / np.abs(lam)).tolist())
        out[path] = {
            "residual": float(np.sqrt(num / lam2)),
            "median_column_residual": float(np.median(cols)),
            "max_column_residual": float(np.max(cols)),
        }
    Path(args.worker_out).write_text(json.dumps(out))


def worker_count(args: argparse.Namespace) -> None:
    """Hidden worker: count_shards over some shard files; saves the counter."""
    from labelsphere import LabelVocabulary
    from labelsphere.counting import count_shards

    vocab = LabelVocabulary.load(args.worker_vocab)
    files = args.worker_y.split(",")
    t0 = time.perf_counter()
    c = count_shards(files, vocabulary=vocab, progress=False)
    c.save(args.worker_emb)
    Path(args.worker_out).write_text(
        json.dumps(
            {
                "seconds": time.perf_counter() - t0,
                "count_seconds": c.seconds_,
                "samples": c.n_samples_,
                "samples_per_second": c.samples_per_second_,
            }
        )
    )


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait(proc: subprocess.Popen, what: str) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} worker failed (exit {proc.returncode}):\n{err[-4000:]}")


def _env(blas_threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(blas_threads)
    return env


# ----------------------------------------------------------------------------- one size
def bench_fit(name: str, y_path: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    raw: dict[str, list[dict[str, Any]]] = {p: [] for p in PIPELINES}
    emb: dict[str, Path] = {}
    for r in range(args.repeats):
        for p in PIPELINES if r % 2 == 0 else PIPELINES[::-1]:
            out, e = tmp / f"{name}-{p}.json", tmp / f"{name}-{p}-E.npy"
            wargs = ["--worker", p, "--worker-y", str(y_path), "--worker-out", str(out)]
            wargs += ["--worker-emb", str(e), "--dims", str(args.dims)]
            wargs += ["--plain-iter", str(args.plain_iter)]
            if args.ls_iter is not None:
                wargs += ["--ls-iter", str(args.ls_iter)]
            if not (args.workdir and out.exists() and e.exists()):
                _wait(_run(wargs, _env(args.blas_threads)), p)
            res = json.loads(out.read_text())
            res["repeat"] = r
            raw[p].append(res)
            emb[p] = e
            print(
                f"  [{name}] repeat {r} {p:11s} {res['seconds']:8.1f} s wall "
                f"{res['cpu_seconds']:8.1f} s CPU  peak +{res['peak_extra_bytes'] / 2**20:7.0f} MiB",
                flush=True,
            )
    out = tmp / f"{name}-residual.json"
    wargs = ["--worker", "residual", "--worker-y", str(y_path), "--worker-out", str(out)]
    wargs += ["--worker-emb", ",".join(str(emb[p]) for p in PIPELINES)]
    _wait(_run(wargs, _env(args.blas_threads)), "residual")
    resid = json.loads(out.read_text())
    summary: dict[str, Any] = {}
    for p in PIPELINES:
        runs = raw[p]
        summary[p] = {
            "n_iter": args.plain_iter if p == "plain" else (args.ls_iter or _ls_default_iter()),
            "median_seconds": float(np.median([x["seconds"] for x in runs])),
            "median_cpu_seconds": float(np.median([x["cpu_seconds"] for x in runs])),
            "max_peak_extra_mib": max(x["peak_extra_bytes"] for x in runs) / 2**20,
            **resid[str(emb[p])],
            "raw": runs,
        }
        if not args.workdir:
            emb[p].unlink()
    ls, pl = summary["labelsphere"], summary["plain"]
    summary["time_ratio"] = ls["median_seconds"] / pl["median_seconds"]
    summary["cpu_ratio"] = ls["median_cpu_seconds"] / pl["median_cpu_seconds"]
    summary["memory_ratio"] = ls["max_peak_extra_mib"] / pl["max_peak_extra_mib"]
    summary["ratio_per_repeat"] = [
        a["seconds"] / b["seconds"] for a, b in zip(raw["labelsphere"], raw["plain"], strict=True)
    ]
    return summary


def _ls_default_iter() -> int:
    from labelsphere import LabelEmbedding

    return int(LabelEmbedding().n_iter)


def write_shards(Y: sp.csr_matrix, directory: Path, n_shards: int) -> list[Path]:
    """The label sets as JSONL shards of names ``t<id>``."""
    directory.mkdir(parents=True, exist_ok=True)
    names = np.array([f"t{j}" for j in range(Y.shape[1])], dtype=object)
    paths = []
    bounds = np.linspace(0, Y.shape[0], n_shards + 1).astype(int)
    for s, (a, b) in enumerate(itertools.pairwise(bounds)):
        path = directory / f"shard-{s:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            ip, ix = Y.indptr, Y.indices
            f.writelines(
                json.dumps({"labels": names[ix[ip[i] : ip[i + 1]]].tolist()}) + "\n"
                for i in range(a, b)
            )
        paths.append(path)
    return paths


def bench_counting(
    name: str, Y: sp.csr_matrix, tmp: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from labelsphere import CooccurrenceCounter, LabelVocabulary

    t0 = time.perf_counter()
    shards = write_shards(Y, tmp / f"{name}-shards", args.n_shards)
    write_s = time.perf_counter() - t0
    vocab = LabelVocabulary([f"t{j}" for j in range(Y.shape[1])])
    vocab_path = tmp / f"{name}-vocab.json"
    vocab.save(vocab_path)
    n = Y.shape[0]
    halves = [shards[: len(shards) // 2], shards[len(shards) // 2 :]]
    results: dict[str, Any] = {"n_shards": len(shards), "write_seconds": write_s}
    counters = {}
    for procs in (1, 2):
        groups = [shards] if procs == 1 else halves
        t0 = time.perf_counter()
        running = []
        for g, files in enumerate(groups):
            out, ckpt = tmp / f"{name}-count{procs}-{g}.json", tmp / f"{name}-c{procs}-{g}.st"
            wargs = ["--worker", "count", "--worker-y", ",".join(map(str, files))]
            wargs += ["--worker-out", str(out), "--worker-emb", str(ckpt)]
            wargs += ["--worker-vocab", str(vocab_path)]
            running.append((_run(wargs, _env(1)), out, ckpt))
        for proc, _, _ in running:
            _wait(proc, "count")
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        merged = CooccurrenceCounter.load(running[0][2])
        for _, _, ckpt in running[1:]:
            merged.merge(CooccurrenceCounter.load(ckpt))
        merge_s = time.perf_counter() - t1
        counters[procs] = merged
        workers = [json.loads(out.read_text()) for _, out, _ in running]
        # Counting time: the slowest worker's count_shards call (reading, encoding, counting,
        # saving its counter), plus loading and merging; process start-up and imports excluded.
        seconds = max(w["seconds"] for w in workers) + (merge_s if procs > 1 else 0.0)
        results[f"{procs}_process"] = {
            "seconds": seconds,
            "samples_per_second": n / seconds,
            "merge_seconds": merge_s,
            "wall_seconds_with_startup": wall + merge_s,
            "workers": workers,
        }
        print(
            f"  [{name}] counting, {procs} process(es): {seconds:.1f} s, {n / seconds:,.0f} samples/s",
            flush=True,
        )
    a, b = counters[1], counters[2]
    same = (
        a.n_samples_ == b.n_samples_ == n
        and np.array_equal(a.label_counts_, b.label_counts_)
        and (a.pair_counts(full=False) != b.pair_counts(full=False)).nnz == 0
    )
    results["merged_equals_one_process"] = bool(same)
    results["speedup"] = results["1_process"]["seconds"] / results["2_process"]["seconds"]
    return results


# ----------------------------------------------------------------------------- reporting
def markdown_table(results: dict[str, Any]) -> str:
    d = results["config"]["dims"]
    lines = [
        f"| labels | samples | pairs | pipeline | n_iter | fit time (s) | CPU time (s) | "
        f"peak extra RSS (MiB) | residual (d={d}) |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, res in results["sizes"].items():
        st = res["stats"]
        f = res["fit"]
        for p in PIPELINES:
            s = f[p]
            lines.append(
                f"| {st['n_labels']:,} | {st['n_samples']:,} | {st['cooccurring_pairs']:,} | "
                f"{p} | {s['n_iter']} | {s['median_seconds']:.1f} | {s['median_cpu_seconds']:.1f} | "
                f"{s['max_peak_extra_mib']:,.0f} | {s['residual']:.4f} |"
            )
        lines.append(
            f"| {name} | | | **labelsphere / plain** | | **{f['time_ratio']:.2f}×** | "
            f"**{f['cpu_ratio']:.2f}×** | **{f['memory_ratio']:.2f}×** | "
            f"{f['labelsphere']['residual'] / f['plain']['residual']:.2f}× |"
        )
    lines += [
        "",
        "| labels | samples | shards | 1 process (samples/s) | 2 processes + merge (samples/s) | "
        "speedup | merged = 1-process counts |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for _name, res in results["sizes"].items():
        c = res.get("counting")
        if not c:
            continue
        st = res["stats"]
        lines.append(
            f"| {st['n_labels']:,} | {st['n_samples']:,} | {c['n_shards']} | "
            f"{c['1_process']['samples_per_second']:,.0f} | "
            f"{c['2_process']['samples_per_second']:,.0f} | {c['speedup']:.2f}× | "
            f"{'yes' if c['merged_equals_one_process'] else 'NO'} |"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["sizes"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    colors = {"labelsphere": "#1f77b4", "plain": "#aaaaaa"}
    width = 0.38
    for ax, key, label in (
        (axes[0], "median_seconds", "fit time (s)"),
        (axes[1], "max_peak_extra_mib", "peak extra RSS (MiB)"),
    ):
        for k, p in enumerate(PIPELINES):
            vals = [results["sizes"][n]["fit"][p][key] for n in names]
            xs = np.arange(len(names)) + (k - 0.5) * width
            bars = ax.bar(xs, vals, width, label=p, color=colors[p])
            for b, v in zip(bars, vals, strict=True):
                ax.annotate(
                    f"{v:,.0f}",
                    (b.get_x() + b.get_width() / 2, v),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels([f"L={results['sizes'][n]['stats']['n_labels']:,}" for n in names])
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.suptitle(
        f"PMI label embedding, d={results['config']['dims']} (residuals in the JSON)", fontsize=10
    )
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
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/embedding_scale.json")
    ap.add_argument("--sizes", nargs="+", default=["17k", "100k"], choices=list(SIZES))
    ap.add_argument("--quick", action="store_true", help="the 3k-label smoke size only")
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plain-iter", type=int, default=4, help="randomized_svd n_iter")
    ap.add_argument("--ls-iter", type=int, default=None, help="LabelEmbedding n_iter")
    ap.add_argument("--n-shards", type=int, default=8)
    ap.add_argument("--skip-counting", action="store_true")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep labels, fits and embeddings here; finished fits found here are reused",
    )
    ap.add_argument("--blas-threads", type=int, default=None)
    ap.add_argument("--worker", choices=(*PIPELINES, "residual", "count"), help=argparse.SUPPRESS)
    for hidden in ("--worker-y", "--worker-out", "--worker-emb", "--worker-vocab"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker in PIPELINES:
        return worker_fit(args)
    if args.worker == "residual":
        return worker_residual(args)
    if args.worker == "count":
        return worker_count(args)
    sizes = ["quick"] if args.quick else args.sizes
    results: dict[str, Any] = {
        "config": {
            "dims": args.dims,
            "repeats": args.repeats,
            "seed": args.seed,
            "plain_iter": args.plain_iter,
            "ls_iter": args.ls_iter or _ls_default_iter(),
            "blas_threads": args.blas_threads or "library default",
            "sizes": {s: SIZES[s] for s in sizes},
            "command": " ".join(["python", *sys.argv]),
        },
        "machine": machine_info(),
        "sizes": {},
    }
    print(json.dumps(results["machine"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="labelsphere-scale-") as tmpdir:
        # --workdir keeps the generated labels, each fit's timing and embedding: a failure
        # after an hour of fitting does not lose the fits.
        tmp = Path(args.workdir) if args.workdir else Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        for name in sizes:
            cfg = SIZES[name]
            t0 = time.perf_counter()
            Y = generate_synthetic(cfg["n_samples"], cfg["n_labels"], cfg["n_topics"], args.seed)
            gen_s = time.perf_counter() - t0
            y_path = tmp / f"{name}-Y.npz"
            sp.save_npz(y_path, Y, compressed=False)
            from labelsphere import CooccurrenceCounter

            counts = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y)
            stats = {
                "n_samples": int(Y.shape[0]),
                "n_labels": int(Y.shape[1]),
                "labels_used": int((counts.label_counts_ > 0).sum()),
                "mean_labels_per_sample": float(Y.nnz / Y.shape[0]),
                "cooccurring_pairs": int(counts.n_pairs_ - (counts.label_counts_ > 0).sum()),
                "generation_seconds": gen_s,
            }
            del counts
            print(f"[{name}] {json.dumps(stats)}", flush=True)
            res: dict[str, Any] = {"stats": stats}
            res["fit"] = bench_fit(name, y_path, tmp, args)
            if not args.skip_counting:
                res["counting"] = bench_counting(name, Y, tmp, args)
            results["sizes"][name] = res
            del Y
            if not args.workdir:
                y_path.unlink()
    table = markdown_table(results)
    results["table_markdown"] = table
    print()
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    plot(results, out.with_suffix(".png"))
    print(f"\nwrote {out} and {out.with_suffix('.png')}")
    return None


if __name__ == "__main__":
    main()

"""Load test of ``labelsphere serve``: the real uvicorn server on 127.0.0.1 under concurrency.

A small embedding model is trained once on bibtex (2 epochs, one hidden layer of 256; cached
in ``--work``) and served with :func:`labelsphere.serve.make_server` (a 1 MiB body limit) in a
background thread. 2,000 ``POST /predict`` requests, one bibtex test row each (k=5), go out at
concurrency 16 (16 threads, one ``httpx.Client`` each), with 200 hostile requests spread evenly
among them (malformed JSON, a wrong content type, a row of the wrong width, NaN in a row, k=0,
a 2 MiB body, an unknown label on ``/labels/{name}/similar``): each must get a 4xx. Beside it,
the same 2,000 rows go through ``Predictor.predict`` in-process, one at a time.

    python benchmarks/serve_load.py --data-dir ../shared/data

Prints a markdown table and writes docs/benchmarks/serve_load.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
N_GOOD = 2000
N_HOSTILE = 200
CONCURRENCY = 16
DEADLINE_S = 120.0
K = 5
MAX_BODY = 1 << 20
JSON_CT = {"content-type": "application/json"}
HOSTILE_KINDS = (
    "malformed-json",
    "wrong-content-type",
    "wrong-row-length",
    "nan-in-row",
    "k-zero",
    "oversized-body",
    "unknown-label",
)


def _model(work: Path, data_dir: str) -> Path:
    run = work / "run"
    if not (run / "model").exists():
        from labelsphere.train import train_dataset

        train_dataset("bibtex", run, epochs=2, hidden=(256,), data_dir=data_dir, progress=False)
    return run / "model"


def _hostile(kind: str, row: list[float]) -> tuple[str, str, bytes | None, dict[str, str]]:
    """(method, path, body, headers) of one hostile request."""
    good = json.dumps({"rows": [row], "k": K}).encode()
    if kind == "malformed-json":
        return "POST", "/predict", good[: len(good) // 2], JSON_CT
    if kind == "wrong-content-type":
        return "POST", "/predict", good, {"content-type": "text/plain"}
    if kind == "wrong-row-length":
        return "POST", "/predict", json.dumps({"rows": [row[:-7]], "k": K}).encode(), JSON_CT
    if kind == "nan-in-row":
        bad = [float("nan"), *row[1:]]
        return "POST", "/predict", json.dumps({"rows": [bad], "k": K}).encode(), JSON_CT
    if kind == "k-zero":
        return "POST", "/predict", json.dumps({"rows": [row], "k": 0}).encode(), JSON_CT
    if kind == "oversized-body":
        return "POST", "/predict", b" " * (2 << 20) + good, JSON_CT
    if kind == "unknown-label":
        return "GET", "/labels/no-such-label-xyz/similar?k=3", None, {}
    raise ValueError(kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--work", type=Path, default=Path("/tmp/serve_load"))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks" / "serve_load.json"
    )
    args = parser.parse_args()

    from labelsphere.artifacts import write_json
    from labelsphere.data import load_dataset
    from labelsphere.predict import Predictor
    from labelsphere.serve import make_server

    model_dir = _model(args.work, args.data_dir)
    X = load_dataset("bibtex", "test", args.data_dir).X
    n_rows = X.shape[0]
    rows = [
        np.asarray(X[i % n_rows].todense(), dtype=np.float32).ravel().tolist()
        for i in range(N_GOOD)
    ]

    # ---------------------------------------------------------------- in-process baseline
    predictor = Predictor.load(model_dir)
    times, direct = [], []
    for row in rows:
        a = np.asarray([row], dtype=np.float32)
        t0 = time.perf_counter()
        p = predictor.predict(a, k=K)[0]
        times.append(time.perf_counter() - t0)
        if len(direct) < 20:
            direct.append([name for name, _ in p.labels])
    inproc_ms = statistics.median(times) * 1e3

    # ---------------------------------------------------------------- the server
    server = make_server(
        model_dir, host="127.0.0.1", port=0, log_level="warning", max_body_bytes=MAX_BODY
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        while not server.started:
            if time.monotonic() - start > 30 or not thread.is_alive():
                raise SystemExit("uvicorn did not start within 30 s")
            time.sleep(0.05)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        assert host == "127.0.0.1"
        base = f"http://127.0.0.1:{port}"

        # Requests: good ones in order, a hostile one after every 10th good one.
        plan: list[tuple[str, int]] = []
        every = N_GOOD // N_HOSTILE
        for i in range(N_GOOD):
            plan.append(("good", i))
            if (i + 1) % every == 0:
                plan.append(("hostile", len([p for p in plan if p[0] == "hostile"])))
        assert sum(p[0] == "hostile" for p in plan) == N_HOSTILE

        local = threading.local()
        deadline = time.monotonic() + DEADLINE_S
        results: list[tuple[str, int, str, int, float, dict | None]] = []
        lock = threading.Lock()

        def client() -> httpx.Client:
            if not hasattr(local, "c"):
                local.c = httpx.Client(base_url=base, timeout=30)
            return local.c

        def one(item: tuple[str, int]) -> None:
            what, i = item
            if time.monotonic() > deadline:
                status, lat, body, kind = -2, 0.0, None, ""  # skipped: past the deadline
            else:
                if what == "good":
                    kind = "good"
                    method, path = "POST", "/predict"
                    content = json.dumps({"rows": [rows[i]], "k": K}).encode()
                    headers = JSON_CT
                else:
                    kind = HOSTILE_KINDS[i % len(HOSTILE_KINDS)]
                    method, path, content, headers = _hostile(kind, rows[i])
                t0 = time.perf_counter()
                try:
                    r = client().request(method, path, content=content, headers=headers)
                    status = r.status_code
                    body = r.json() if what == "good" and status == 200 and i < 20 else None
                except httpx.HTTPError:
                    status, body = -1, None  # no response (connection dropped)
                lat = time.perf_counter() - t0
            with lock:
                results.append((what, i, kind, status, lat, body))

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(one, plan))
        wall = time.perf_counter() - t0

        with httpx.Client(base_url=base, timeout=10) as c:
            health_after = c.get("/health").status_code
    finally:
        server.should_exit = True
        thread.join(timeout=15)

    good = [r for r in results if r[0] == "good"]
    hostile = [r for r in results if r[0] == "hostile"]
    errors = sum(r[3] != 200 for r in good)
    hostile_4xx = sum(400 <= r[3] < 500 for r in hostile)
    n5xx = sum(r[3] >= 500 for r in results)
    by_kind = {k: sorted({r[3] for r in hostile if r[2] == k}) for k in HOSTILE_KINDS}
    lat = np.array([r[4] for r in good if r[3] == 200]) * 1e3
    p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
    throughput = len(results) / wall

    served = {r[1]: r[5] for r in good if r[5] is not None}
    for i in range(20):
        got = [x["label"] for x in served[i]["predictions"][0]["labels"]]
        assert got == direct[i], f"row {i}: server {got} != in-process {direct[i]}"

    out = {
        "command": "python benchmarks/serve_load.py " + " ".join(sys.argv[1:]),
        "model": "bibtex, embedding head, epochs=2, hidden=(256,)",
        "requests": N_GOOD,
        "hostile_requests": N_HOSTILE,
        "concurrency": CONCURRENCY,
        "errors": errors,
        "hostile_4xx": hostile_4xx,
        "hostile_status_by_kind": by_kind,
        "status_5xx": n5xx,
        "health_after": health_after,
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "throughput_rps": round(throughput, 1),
        "wall_s": round(wall, 2),
        "inprocess_median_ms": round(inproc_ms, 3),
        "overhead_ratio": round(p50 / inproc_ms, 1),
        "top5_match_first_20": True,
        "torch_threads": torch.get_num_threads(),
        "note": "2 CPU cores shared with other jobs: latencies are pessimistic.",
    }
    write_json(args.out, out)

    print(
        "| requests | concurrency | errors | hostile 4xx | 5xx | p50 ms | p99 ms | req/s "
        "| in-process ms | overhead |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {N_GOOD} (+{N_HOSTILE} hostile) | {CONCURRENCY} | {errors} "
        f"| {hostile_4xx}/{N_HOSTILE} | {n5xx} | {p50:.1f} | {p99:.1f} | {throughput:.0f} "
        f"| {inproc_ms:.2f} | {p50 / inproc_ms:.0f}x |"
    )
    print(f"hostile statuses by kind: {by_kind}; /health after: {health_after}")
    assert health_after == 200, "GET /health failed after the load"
    assert hostile_4xx == N_HOSTILE and n5xx == 0 and errors == 0, "failures (see the table)"


if __name__ == "__main__":
    main()

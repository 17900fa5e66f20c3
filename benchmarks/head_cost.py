"""What one training step of each head costs at 17k to 3M labels: time and resident memory.

One step = a linear layer from 1280-d inputs (an EfficientNet-sized feature; ``--in-features``
sets it) into the head, batch 256, AdamW, the head's loss and backward, on seeded random
inputs and power-law label sets (about 5 labels per sample). Each (head, L) runs in its own
process; the table gives the median step time over 5 steps after 2 warm-up steps, and the
peak resident memory of that process while stepping (psutil, sampled every 20 ms; it includes
the model, the optimizer state, the label embedding and PyTorch itself, about 0.3 GB), and the
peak within the backward and within the optimizer step, to show which of the two sets it.

Contenders:
* ``embedding``: the default head (softmax over scaled cosines to the fixed embeddings), as
  labelsphere now trains it at scale: sparse CSR targets, the softmax in chunks of 65,536
  labels, fp16 storage of the (L, 256) embedding (``embedding[fp32]``: float32 storage);
* ``embedding (dense)``: the same head the way it ran before (dense (B, L) targets, the full
  (B, L) softmax), where it fits;
* ``embedding-paper``: the paper's cosine-proximity head (targets from sparse rows);
* ``embedding-learned-prior``: the default head since session 8: its (L, 512) label table is
  learned (float32, with a per-label bias), so it carries weights, gradient and two AdamW
  moments per label like a full output layer from 512 units. Its keys are unit-normalised chunk
  by chunk, the gradient through that normalisation too, and the positives' scores are
  subtracted inside the chunked softmax's backward, so the table gets one (L, 512) gradient,
  and from 2**26 values on training steps AdamW's fused kernel (``labelsphere.train.
  optimizer``), which updates in place. ``embedding-learned-prior (session 9)`` is the way it
  ran in session 9: the positives' keys gathered in autograd, whose backward adds a second
  dense (L, 512) gradient, and AdamW's foreach step, which makes two full-size temporaries;
  ``embedding-learned-prior (normalised copy)`` the way it ran before session 9: that, and the
  loss over a full normalised (L, 512) copy of the table, whose gradient autograd also holds;
* ``embedding-scale-cap``: the default head since session 19 (embedding-learned-prior with its
  temperature capped; the same parameters);
* ``embedding-free``: embedding-scale-cap plus a free per-label linear layer (L x 1280 here, on
  the head's input) beside the scaled cosine, so it carries a full output layer as well; its
  softmax is chunked like the default's since session 27. ``embedding-free (unchunked)`` is the
  way it ran before: dense targets and the softmax over all L logits at once;
* ``sigmoid`` and ``softmax``: L x 1280 output layers with sparse targets. Where the weights,
  their gradient and AdamW's two moments alone exceed this 24 GB machine, the row says so
  instead of running.

    python benchmarks/head_cost.py                       # 17k, 100k, 1M, 3M labels
    python benchmarks/head_cost.py --labels 17000 --quick
    python benchmarks/head_cost.py --heads embedding-learned-prior --merge   # add rows to the JSON

Prints a markdown table and writes docs/benchmarks/head_cost.json and a PNG beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IN, BATCH, D = 1280, 256, 256
D_LEARNED = 512  # embedding-learned-prior's d
MACHINE_GB = 24.0
CONTENDERS = (
    "embedding",
    "embedding[fp32]",
    "embedding (dense)",
    "embedding-paper",
    "embedding-learned-prior",
    "embedding-learned-prior (session 9)",
    "embedding-learned-prior (normalised copy)",
    "embedding-scale-cap",
    "embedding-free",
    "embedding-free (unchunked)",
    "sigmoid",
    "softmax",
)


def _estimate_gb(name: str, L: int) -> float:
    """Memory the contender needs at least (weights + grad + 2 AdamW moments, logits x 3)."""
    if name in ("sigmoid", "softmax"):
        return (4 * L * IN * 4 + 3 * BATCH * L * 4) / 2**30
    if name == "embedding (dense)":
        return (L * D * 4 * 2 + 5 * BATCH * L * 4) / 2**30
    if name.startswith("embedding-learned-prior") or name == "embedding-scale-cap":
        copies = {"(normalised copy)": 6, "(session 9)": 5}.get(name[24:], 4)
        return copies * L * (D_LEARNED + 1) * 4 / 2**30
    if name.startswith("embedding-free"):
        return (4 * L * (D_LEARNED + 1 + IN) * 4 + 3 * BATCH * L * 4) / 2**30
    return L * D * (2 if name == "embedding" else 4) * 2 / 2**30


def _gathered_loss(head, x, y, copy: bool):
    """The default head's loss as before session 10: the positives' keys gathered in autograd.

    ``copy``: over a full normalised copy of the keys as well (before session 9).
    """
    import torch
    import torch.nn.functional as F

    from labelsphere.heads.losses import ChunkedSoftmaxCrossEntropy
    from labelsphere.heads.targets import positives, row_sums

    z = F.normalize(head(x), dim=1, eps=1e-12)
    scale, keys = head.log_scale.exp(), head._keys() if copy else head.embeddings
    none = torch.zeros(0, dtype=torch.long)
    lse = ChunkedSoftmaxCrossEntropy.apply(
        z, keys, scale, head.bias, 65536, not copy, none, none, none.float()
    )
    rows, cols, values = positives(y)
    n = row_sums(y)
    kp = keys[cols] if copy else F.normalize(keys[cols], dim=1, eps=1e-12)
    pos = scale * (z[rows] * kp).sum(dim=1) + head.bias[cols]
    picked = torch.zeros_like(n).index_add_(0, rows, values * pos / n[rows])
    return (lse - picked)[n > 0].mean()


def worker(name: str, L: int, steps: int, threads: int) -> dict:
    import numpy as np
    import psutil
    import scipy.sparse as sp
    import torch

    from labelsphere.heads import EmbeddingHead, SigmoidHead, SoftmaxHead
    from labelsphere.heads.targets import csr_batch
    from labelsphere.train.optimizer import build_optimizer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if name.startswith(("embedding-learned-prior", "embedding-free")) or name == (
        "embedding-scale-cap"
    ):
        from labelsphere.heads.registry import HEAD_REGISTRY

        E = torch.randn(L, D_LEARNED)
        options = dict(HEAD_REGISTRY[name.split(" ")[0]].defaults)
        if name == "embedding-free (unchunked)":
            options["label_chunk"] = L
        head = EmbeddingHead(IN, E, **options)
        counts = np.maximum(rng.zipf(1.3, L), 1)
        head.initialize(counts, int(counts.sum()))
        del E
    elif name.startswith("embedding"):
        dtype = torch.float32 if name in ("embedding[fp32]", "embedding (dense)") else torch.float16
        E = torch.randn(L, D, dtype=dtype)
        opts = {"loss": "cosine", "similarity": "dot"} if name == "embedding-paper" else {}
        dense_way = name == "embedding (dense)"
        head = EmbeddingHead(
            IN,
            E,
            embedding_dtype=str(dtype).split(".")[1],
            label_chunk=L if dense_way else 65536,
            **opts,
        )
        del E
    else:
        head = (SigmoidHead if name == "sigmoid" else SoftmaxHead)(IN, L)
    if name.endswith(("(session 9)", "(normalised copy)")):  # these stepped AdamW's foreach
        opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
    else:
        opt = build_optimizer([{"params": head.parameters()}], 1e-3, 0.01)
    proc = psutil.Process()
    peak = proc.memory_info().rss
    phase = "setup"
    phase_peak = {"backward": 0, "step": 0}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.02):
            rss = proc.memory_info().rss
            peak = max(peak, rss)
            if phase in phase_peak:
                phase_peak[phase] = max(phase_peak[phase], rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    times = []
    for i in range(steps + 2):
        x = torch.randn(BATCH, IN)
        # Power-law label sets, about 5 per sample.
        k = rng.integers(1, 10, BATCH)
        cols = np.minimum(rng.zipf(1.3, k.sum()) - 1, L - 1)
        rows = np.repeat(np.arange(BATCH), k)
        Y = sp.csr_matrix((np.ones(len(cols), np.int8), (rows, cols)), shape=(BATCH, L))
        Y.data[:] = 1
        t0 = time.perf_counter()
        y = (
            torch.from_numpy(Y.toarray().astype(np.float32))
            if name in ("embedding (dense)", "embedding-free (unchunked)")
            else csr_batch(Y)
        )
        if name.endswith(("(session 9)", "(normalised copy)")):
            loss = _gathered_loss(head, x, y, copy=name.endswith("(normalised copy)"))
        else:
            loss = head.loss(head(x), y)
        opt.zero_grad(set_to_none=True)
        phase = "backward"
        loss.backward()
        phase = "step"
        opt.step()
        phase = "other"
        if i >= 2:
            times.append(time.perf_counter() - t0)
    stop.set()
    thread.join()
    peak = max(peak, proc.memory_info().rss)
    return {
        "step_s": statistics.median(times),
        "peak_rss_gb": peak / 2**30,
        "peak_backward_gb": phase_peak["backward"] / 2**30,
        "peak_optimizer_gb": phase_peak["step"] / 2**30,
    }


def run(name: str, L: int, steps: int, threads: int) -> dict:
    need = _estimate_gb(name, L)
    if need > MACHINE_GB * 0.8:
        return {"head": name, "labels": L, "skipped": f"needs >= {need:.0f} GB"}
    cmd = [sys.executable, __file__, "--worker", name, str(L), "--steps", str(steps)]
    cmd += ["--threads", str(threads), "--in-features", str(IN)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["killed"]
        return {"head": name, "labels": L, "skipped": f"failed: {tail[0][:80]}"}
    return {"head": name, "labels": L, **json.loads(done.stdout.strip().splitlines()[-1])}


def plot(rows: list[dict], out: Path) -> None:
    """Step time and peak RSS against the number of labels, per contender (log-log)."""
    import matplotlib

    from labelsphere.artifacts import atomic_write

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in CONTENDERS:
        pts = [r for r in rows if r["head"] == name and "step_s" in r]
        if pts:
            Ls = [r["labels"] for r in pts]
            axes[0].plot(Ls, [r["step_s"] for r in pts], "o-", label=name)
            axes[1].plot(Ls, [r["peak_rss_gb"] for r in pts], "o-", label=name)
    for ax, title in zip(axes, ("step time (s)", "peak RSS (GB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("labels")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].axhline(3.3, color="gray", ls="--", lw=1)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    atomic_write(out.with_suffix(".png"), lambda p: fig.savefig(p, format="png", dpi=110))


def main() -> None:
    global IN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("HEAD", "L"))
    parser.add_argument("--labels", default="17000,100000,1000000,3000000")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 steps")
    parser.add_argument("--in-features", type=int, default=IN, help="width of the head's input (F)")
    parser.add_argument("--heads", default=",".join(CONTENDERS), help="comma-separated contenders")
    parser.add_argument(
        "--merge", action="store_true", help="keep the JSON's other rows, replace these"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "head_cost.json")
    parser.add_argument("--replot", action="store_true", help="only redraw the PNG from --out")
    args = parser.parse_args()
    if args.in_features < 1:
        parser.error(f"--in-features: must be at least 1, got {args.in_features}")
    IN = args.in_features  # read by the worker's layers and by _estimate_gb
    if args.replot:
        from labelsphere.artifacts import read_json

        if not args.out.is_file():
            parser.error(f"--replot: no {args.out} to redraw")
        plot(read_json(args.out)["rows"], args.out)
        return
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.steps, args.threads)))
        return
    steps = 2 if args.quick else args.steps
    heads = args.heads.split(",")
    unknown = sorted(set(heads) - set(CONTENDERS))
    if unknown:
        parser.error(f"--heads: unknown {unknown}; the contenders are {list(CONTENDERS)}")
    if args.merge and args.out.is_file():
        from labelsphere.artifacts import read_json

        there = read_json(args.out).get("in_features", 1280)
        if there != IN:
            parser.error(f"--merge: {args.out} was measured at --in-features {there}, not {IN}")
    rows = []
    print(
        "| labels | head | step (s) | peak RSS (GB) | in backward | in optimizer step |\n"
        "|---|---|---|---|---|---|",
        flush=True,
    )
    for L in (int(x) for x in args.labels.split(",")):
        for name in heads:
            r = run(name, L, steps, args.threads)
            rows.append(r)
            if "step_s" in r:
                cells = f"{r['step_s']:.3f} | {r['peak_rss_gb']:.2f}"
                cells += f" | {r['peak_backward_gb']:.2f} | {r['peak_optimizer_gb']:.2f}"
            else:
                cells = f"— | {r['skipped']} | |"
            print(f"| {L:,} | {name} | {cells} |", flush=True)
    from labelsphere.artifacts import read_json, write_json

    command = "python benchmarks/head_cost.py " + " ".join(sys.argv[1:])
    commands = [command]
    if args.merge and args.out.is_file():
        old = read_json(args.out)
        done = {(r["head"], r["labels"]) for r in rows}
        rows = [r for r in old["rows"] if (r["head"], r["labels"]) not in done] + rows
        rows.sort(key=lambda r: (r["labels"], CONTENDERS.index(r["head"])))
        commands = [*old.get("commands", [old["command"]]), command]
    write_json(
        args.out,
        {
            "command": commands[0],
            "commands": commands,
            "threads": args.threads,
            "batch": BATCH,
            "in_features": IN,
            "d": D,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "rows": rows,
        },
    )
    plot(rows, args.out)


if __name__ == "__main__":
    main()

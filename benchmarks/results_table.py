"""Collect `labelsphere compare` outputs into the tables of docs/results.md and the README.

Reads each comparison's ``results.json`` (never retypes a number), copies its report and plots
into ``docs/results/<dataset>/``, and prints two markdown blocks: the full per-dataset tables and
the compact README table.

    python benchmarks/results_table.py /work/exp/final-delicious /work/exp/final-bibtex ...
    python benchmarks/results_table.py --write DIR...   # also fill docs/results.md and README.md

With ``--write`` the generated blocks replace what lies between the ``<!-- TABLES -->`` /
``<!-- /TABLES -->`` and ``<!-- TARGETS -->`` / ``<!-- /TARGETS -->`` markers of
``docs/results.md`` and the ``<!-- BENCHMARK_TABLE -->`` / ``<!-- /BENCHMARK_TABLE -->`` markers
of ``README.md`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from labelsphere.artifacts import atomic_write_text
from labelsphere.compare import PUBLISHED, add_speed, render_report, run_dir_for, summarize

REPO = Path(__file__).resolve().parents[1]
METRICS = ("MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5")


def _f(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def _x(v: float | None) -> str:
    return "never" if v is None else f"{v:.2f}×"


def dataset_block(summary: dict) -> str:
    rows = summarize(summary)
    base = next(r for r in rows if r["head"] == summary["baseline"])
    ds = summary["dataset"]
    cfg = summary["config"]
    lines = [
        f"### {ds}",
        "",
        f"{summary['n_train']} train / {summary['n_val']} val / {summary['n_test']} test, "
        f"{summary['n_labels']} labels, {summary['n_features']} input features"
        + (f" ({summary['backbone']} frozen)" if summary.get("backbone") else "")
        + f"; MLP {tuple(cfg['hidden'])}, {cfg['epochs']} epochs, batch {cfg['batch_size']}, "
        f"{summary['n_seeds']} seeds, lr per head from {summary['lrs']}; "
        f"{summary['n_runs']} runs, {summary['run_seconds'] / 60:.0f} min of training in all.",
        "",
        "| head | lr | "
        + " | ".join(METRICS)
        + " | MAP@100 vs sigmoid | steps to sigmoid's best (ratio) | steps to 90% of it (ratio) |",
        "|---|---|" + "---|" * (len(METRICS) + 3),
    ]
    for r in rows:
        cells = [f"{r[m][0]:.4f} ± {r[m][1]:.4f}" for m in METRICS]
        rel = r["MAP@100"][0] / base["MAP@100"][0]
        reach = f"{_f(r['steps_to_baseline'], '.0f')} ({_f(r['steps_ratio'], '.2f')}, {r['reached']} seeds)"
        reach90 = f"{_f(r['steps90'], '.0f')} ({_f(r['steps90_ratio'], '.2f')})"
        lines.append(
            f"| {r['head']} | {r['lr']:g} | "
            + " | ".join(cells)
            + f" | {rel:.3f}× | {reach} | {reach90} |"
        )
    pub = PUBLISHED.get(ds)
    if pub:
        best = max(pub.items(), key=lambda kv: kv[1][0])
        lines += [
            "",
            "Published P@1/3/5 (%): "
            + "; ".join(f"{k} {a:.2f}/{b:.2f}/{c:.2f}" for k, (a, b, c) in pub.items())
            + f". Best published P@1: {best[1][0]:.2f} ({best[0]}).",
        ]
    lines += ["", f"![{ds} curves over steps](results/{ds}/curves_steps.png)", ""]
    return "\n".join(lines)


def _head_rows(summaries: list[dict], heads: tuple[str, ...]) -> list[tuple[dict, str, dict, dict]]:
    """(summary, head, its row, the baseline's row) for each dataset and each head it ran."""
    out = []
    for summary in summaries:
        rows = {r["head"]: r for r in summarize(summary)}
        out += [(summary, h, rows[h], rows[summary["baseline"]]) for h in heads if h in rows]
    return out


def readme_block(summaries: list[dict]) -> str:
    lines = [
        "| dataset | head | MAP@100 | P@1 | P@5 | PSP@5 | vs sigmoid MAP@100 | steps to sigmoid's best | steps to 90% of it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for summary, head, r, base in _head_rows(
        summaries,
        ("embedding", "embedding-paper", "hybrid", "hybrid[loss=softmax]", "sigmoid", "softmax"),
    ):
        lines.append(
            f"| {summary['dataset']} | {head} | {r['MAP@100'][0]:.4f} | {r['P@1'][0]:.4f} | {r['P@5'][0]:.4f} | "
            f"{r['PSP@5'][0]:.4f} | {r['MAP@100'][0] / base['MAP@100'][0]:.3f}× | "
            f"{_x(r['steps_ratio'])} ({r['reached']}) | {_x(r['steps90_ratio'])} |"
        )
    return "\n".join(lines)


def targets_block(
    summaries: list[dict], heads: tuple[str, ...] = ("embedding", "hybrid", "hybrid[loss=softmax]")
) -> str:
    """The issue's targets per dataset: MAP@100 ratio, steps ratio, P@1 against the published best."""
    lines = [
        "| dataset | head | MAP@100 / sigmoid (target ≥ 1.07) | steps to sigmoid's best / sigmoid's (target ≤ 0.5) | P@1 (%) | best published P@1 (%) |",
        "|---|---|---|---|---|---|",
    ]
    for summary, head, r, base in _head_rows(summaries, heads):
        pub = PUBLISHED.get(summary["dataset"])
        best = f"{max(v[0] for v in pub.values()):.2f}" if pub else "—"
        ratio = r["MAP@100"][0] / base["MAP@100"][0]
        steps = (
            f"{r['steps_ratio']:.2f} ({r['reached']} seeds reach it)"
            if r["steps_ratio"] is not None
            else f"never ({r['reached']}); 90% of it: {_f(r['steps90_ratio'], '.2f')}"
        )
        k, n = r["reached"].split("/")
        fast = r["steps_ratio"] is not None and r["steps_ratio"] <= 0.5 and k == n
        lines.append(
            f"| {summary['dataset']} | {head} | {ratio:.3f} {'✓' if ratio >= 1.07 else '✗'} | "
            f"{steps} {'✓' if fast else '✗'} | "
            f"{100 * r['P@1'][0]:.2f} | {best} |"
        )
    return "\n".join(lines)


def scale_block(path: Path) -> str:
    """The scale benchmark's own table (benchmarks/embedding_scale.py), with its command."""
    d = json.loads(path.read_text())
    m = d["machine"]
    return (
        f"`{d['config']['command']}` ({m['date'][:16]}, {m['cpu_count']} cores, "
        f"BLAS threads: {d['config']['blas_threads']}; medians of {d['config']['repeats']} "
        f"repeats):\n\n" + d["table_markdown"]
    )


def images_block(path: Path) -> str:
    """The image pipeline's overhead (benchmarks/image_throughput.py) as a table."""
    d = json.loads(path.read_text())
    ex, ht = d["extraction"], d["head_training"]
    lines = [
        f"`python benchmarks/image_throughput.py --data-dir ../shared/data` ({d['backbone']['name']}, "
        f"{d['device']}, {d['torch_threads']} torch thread(s), {d['n_images']} images, medians):",
        "",
        "| what | labelsphere (/s) | plain timm/PyTorch loop (/s) | overhead (target ≤ 1.15×) |",
        "|---|---|---|---|",
        f"| feature extraction (images) | {ex['labelsphere_per_s']:.2f} | {ex['plain_per_s']:.2f} | "
        f"{ex['overhead']:.3f}× |",
    ]
    for head in ("SigmoidHead", "EmbeddingHead"):
        h = ht[head]
        lines.append(
            f"| {head} training (steps, batch {ht['batch_size']}) | {h['labelsphere_per_s']:.0f} | "
            f"{h['plain_per_s']:.0f} | {h['overhead']:.3f}× |"
        )
    return "\n".join(lines)


def _replace_between(path: Path, marker: str, block: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"(<!-- {marker} -->\n)(?:.*?\n)?(<!-- /{marker} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: markers <!-- {marker} --> ... <!-- /{marker} --> not found")
    atomic_write_text(path, pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="compare output directories")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    parser.add_argument(
        "--write", action="store_true", help="fill docs/results.md and README.md between markers"
    )
    args = parser.parse_args()
    summaries = []
    for d in args.dirs:
        summary = json.loads((d / "results.json").read_text())
        # Recompute the speed columns from the stored curves (older results lack some).
        add_speed(summary["heads"], summary["baseline"], summary["n_seeds"])
        if "run_seconds" not in summary:  # older results: add up the runs' own times
            seconds = [
                run_dir_for(d, spec, float(lr), seed).read_result()["seconds"]
                for spec, res in summary["heads"].items()
                for lr, seed in [(lr, 0) for lr in res["lr_search"]]
                + [(f"{res['lr']:g}", k) for k in range(1, summary["n_seeds"])]
            ]
            summary["run_seconds"], summary["n_runs"] = sum(seconds), len(seconds)
        summaries.append(summary)
        dest = args.docs / "results" / summary["dataset"]
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("results.json", "curves_steps.png", "curves_time.png"):
            shutil.copyfile(d / name, dest / name)
        # Re-rendered with the current report code (the stored summary is unchanged).
        atomic_write_text(dest / "report.md", render_report(summary))
    tables = "\n\n".join(dataset_block(s) for s in summaries)
    targets = targets_block(summaries)
    readme = readme_block(summaries)
    print(tables, targets, readme, sep="\n\n")
    if args.write:
        _replace_between(args.docs / "results.md", "TABLES", tables)
        _replace_between(args.docs / "results.md", "TARGETS", targets)
        bench = args.docs / "benchmarks"
        _replace_between(
            args.docs / "results.md", "SCALE", scale_block(bench / "embedding_scale.json")
        )
        _replace_between(
            args.docs / "results.md", "IMAGES", images_block(bench / "image_throughput.json")
        )
        _replace_between(REPO / "README.md", "BENCHMARK_TABLE", readme)


if __name__ == "__main__":
    main()

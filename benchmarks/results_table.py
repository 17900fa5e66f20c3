"""Collect `labelsphere compare` outputs into the tables of docs/results.md and the README.

Reads each comparison's ``results.json`` (never retypes a number), copies its report and plots
into ``docs/results/<dataset>/``, and prints two markdown blocks: the full per-dataset tables and
the compact README table.

    python benchmarks/results_table.py /work/exp/final-delicious /work/exp/final-bibtex ...
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from labelsphere.compare import PUBLISHED, _add_speed, summarize

REPO = Path(__file__).resolve().parents[1]
METRICS = ("MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5")


def _f(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


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
        f"{summary['seconds'] / 60:.0f} min wall in all.",
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


def readme_block(summaries: list[dict]) -> str:
    lines = [
        "| dataset | head | MAP@100 | P@1 | P@5 | PSP@5 | vs sigmoid MAP@100 | steps to sigmoid's best | steps to 90% of it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for summary in summaries:
        rows = {r["head"]: r for r in summarize(summary)}
        base = rows[summary["baseline"]]
        for head in ("embedding", "embedding-paper", "hybrid", "sigmoid", "softmax"):
            r = rows.get(head)
            if r is None:
                continue
            lines.append(
                f"| {summary['dataset']} | {head} | {r['MAP@100'][0]:.4f} | {r['P@1'][0]:.4f} | {r['P@5'][0]:.4f} | "
                f"{r['PSP@5'][0]:.4f} | {r['MAP@100'][0] / base['MAP@100'][0]:.3f}× | "
                f"{_f(r['steps_ratio'], '.2f')}× ({r['reached']}) | {_f(r['steps90_ratio'], '.2f')}× |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="compare output directories")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    summaries = []
    for d in args.dirs:
        summary = json.loads((d / "results.json").read_text())
        # Recompute the speed columns from the stored curves (older results lack some).
        _add_speed(summary["heads"], summary["baseline"], summary["n_seeds"])
        summaries.append(summary)
        dest = args.docs / "results" / summary["dataset"]
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("report.md", "results.json", "curves_steps.png", "curves_time.png"):
            shutil.copyfile(d / name, dest / name)
    print("\n\n".join(dataset_block(s) for s in summaries))
    print("\n\n<!-- README -->\n")
    print(readme_block(summaries))


if __name__ == "__main__":
    main()

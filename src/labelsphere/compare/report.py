"""The comparison's report: one row per head (test metrics, speed, memory) and ``report.md``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PUBLISHED", "REPORT_METRICS", "render_report", "summarize"]

# Published P@1/3/5 (%) on the standard splits, from the Extreme Classification Repository
# (as listed in ../shared/data/README.md).
PUBLISHED: dict[str, dict[str, tuple[float, float, float]]] = {
    "delicious": {
        "FastXML": (69.61, 64.12, 59.27),
        "SLEEC": (67.59, 61.38, 56.56),
        "Parabel": (67.44, 61.83, 56.75),
        "PfastreXML": (67.13, 62.33, 58.62),
        "LEML": (65.67, 60.55, 56.08),
        "CPLST": (65.31, 59.95, 55.31),
    },
    "bibtex": {
        "SLEEC": (65.08, 39.64, 28.87),
        "Parabel": (64.53, 38.56, 27.94),
        "PfastreXML": (63.46, 39.22, 29.14),
        "FastXML": (63.42, 39.23, 28.86),
        "one-vs-all": (62.62, 39.09, 28.79),
        "LEML": (62.54, 38.41, 28.21),
    },
}

REPORT_METRICS = ("MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5", "micro-F1", "macro-F1")


def summarize(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per head: test metrics (mean, std), speed to the baseline's best, memory."""
    rows = []
    base_steps = [
        r["to_baseline_best"]["steps"] for r in summary["heads"][summary["baseline"]]["runs"]
    ]
    for spec, res in summary["heads"].items():
        runs = res["runs"]
        row: dict[str, Any] = {"head": spec, "lr": res["lr"]}
        for m in REPORT_METRICS:
            vals = [r["test"][m] for r in runs if m in r["test"]]
            if len(vals) < len(runs):  # runs made before the metric existed (F1 of the sets)
                row[m] = None
                continue
            row[m] = (float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0)
        steps = [r["to_baseline_best"]["steps"] for r in runs]
        secs = [r["to_baseline_best"]["seconds"] for r in runs]
        reached = [s for s in steps if s is not None]
        row["reached"] = f"{len(reached)}/{len(runs)}"
        row["steps_to_baseline"] = float(np.median(reached)) if reached else None
        row["seconds_to_baseline"] = (
            float(np.median([s for s in secs if s is not None])) if reached else None
        )
        ratios = [s / b for s, b in zip(steps, base_steps, strict=True) if s is not None and b]
        row["steps_ratio"] = float(np.median(ratios)) if ratios else None
        base90 = [
            r["to_baseline_90"]["steps"] for r in summary["heads"][summary["baseline"]]["runs"]
        ]
        s90 = [r["to_baseline_90"]["steps"] for r in runs]
        r90 = [s / b for s, b in zip(s90, base90, strict=True) if s is not None and b]
        row["steps90"] = float(np.median([s for s in s90 if s is not None])) if r90 else None
        row["steps90_ratio"] = float(np.median(r90)) if r90 else None
        row["total_steps"] = int(np.median([r["steps"] for r in runs]))
        row["train_seconds"] = float(np.median([r["seconds"] for r in runs]))
        peaks = [r.get("peak_rss_mb") for r in runs if r.get("peak_rss_mb") is not None]
        row["peak_rss_mb"] = float(max(peaks)) if peaks else None
        row["head_parameters"] = runs[0].get("head_parameters")
        row["head_fixed"] = runs[0].get("head_fixed")
        rows.append(row)
    return rows


def _budget_table(
    summary: dict[str, Any],
    key: str,
    intro: list[str],
    cell: Callable[[dict[str, Any], dict[str, Any] | None], str],
) -> list[str]:
    """A table of heads x budgets from each head's ``res[key]`` (budget -> entry).

    The budgets are the baseline's; ``cell(entry, baseline_entry)`` formats one cell, with
    ``baseline_entry`` None on the baseline's own row. Empty without baseline entries.
    """
    heads = summary["heads"]
    base = heads[summary["baseline"]].get(key)
    if not base:
        return []
    lines = [
        "",
        *intro,
        "",
        "| head | " + " | ".join(f"{e} ep" for e in base) + " |",
        "|---|" + "---|" * len(base),
    ]
    for spec, res in heads.items():
        own = res.get(key, {})
        ref = (lambda e: None) if spec == summary["baseline"] else base.get
        cells = [cell(own[e], ref(e)) if e in own else "—" for e in base]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    return lines


def _budget_lines(summary: dict[str, Any]) -> list[str]:
    intro = [
        "## Shorter budgets: best validation MAP@100 within e epochs, relative to the baseline",
        "",
        "Learning rate re-chosen per budget from the same grid (seed 0); with a constant learning "
        "rate the first e epochs of a run are the e-epoch run. The baseline's row gives its value. "
        "The grid was chosen for the full budget: a head that wants a higher rate for a short "
        "budget (the sigmoid head usually does) is understated here; add a short run at higher "
        "rates (`--epochs 10 --lrs 1e-2,3e-2`) and merge both with benchmarks/budget_table.py.",
    ]

    def cell(own: dict[str, Any], base: dict[str, Any] | None) -> str:
        return f"{own['value']:.4f}" if base is None else f"{own['value'] / base['value']:.3f}×"

    return _budget_table(summary, "budgets", intro, cell)


def _budget_test_lines(summary: dict[str, Any]) -> list[str]:
    intro = [
        "## Test MAP@100 at each budget (rate tuned per budget on validation)",
        "",
        "For budget e: the rate whose seed-0 run is best on validation within e epochs, then for "
        "each seed at that rate the checkpoint validation picks within e epochs, evaluated on "
        "test (the test split is recorded at every evaluation and never used to choose). Mean "
        "over the seeds run at that rate (n: all seeds with --budget-seeds, else 1 where the "
        "budget's rate is not the full budget's), and the ratio to the baseline's mean.",
    ]

    def cell(own: dict[str, Any], base: dict[str, Any] | None) -> str:
        v = own["test"]["MAP@100"]
        ratio = "" if base is None else f", {v / base['test']['MAP@100']:.3f}×"
        return f"{v:.4f} (n={own['n_seeds']}, lr {own['lr']}{ratio})"

    return _budget_table(summary, "budget_test", intro, cell)


def render_report(summary: dict[str, Any]) -> str:
    rows = summarize(summary)
    base = next(r for r in rows if r["head"] == summary["baseline"])
    cfg = summary["config"]
    lines = [
        f"# {summary['dataset']}: {', '.join(summary['heads'])}",
        "",
        f"{summary['n_train']} train / {summary['n_val']} validation / {summary['n_test']} test samples, "
        f"{summary['n_labels']} labels, {summary['n_features']} features. "
        f"Same network for every head: MLP hidden={tuple(cfg['hidden'])}, dropout={cfg['dropout']}; "
        f"AdamW, batch {cfg['batch_size']}, {cfg['epochs']} epochs, schedule {cfg['schedule']} "
        f"(warm-up {cfg['warmup']}), d={cfg['n_components'] or 'each head’s own (256; 512 for embedding-learned-prior)'} for embedding heads (capped at L − 1). "
        f"Learning rate per head chosen on validation MAP@100 from {summary['lrs']} (seed 0); "
        f"{summary['n_seeds']} seeds at that rate; test metrics of each run's best validation checkpoint. "
        + (
            f"The {summary['n_runs']} training runs took {summary['run_seconds'] / 60:.1f} min in all "
            if "run_seconds" in summary
            else ""
        )
        + f"(this invocation: {summary['seconds'] / 60:.1f} min wall; runs reused from an earlier "
        f"one count with their own time) on {summary['machine']['device']} "
        f"({summary['machine']['threads']} threads), {summary['date']}.",
        "",
        "## Test metrics (mean ± std over seeds)",
        "",
        "| head | lr | " + " | ".join(REPORT_METRICS) + " | MAP@100 vs baseline |",
        "|---|---|" + "---|" * (len(REPORT_METRICS) + 1),
    ]
    for r in rows:
        cells = ["—" if r[m] is None else f"{r[m][0]:.4f} ± {r[m][1]:.4f}" for m in REPORT_METRICS]
        rel = r["MAP@100"][0] / base["MAP@100"][0] if base["MAP@100"][0] else float("nan")
        lines.append(f"| {r['head']} | {r['lr']:g} | " + " | ".join(cells) + f" | {rel:.3f}× |")
    lines += [
        "",
        "micro-F1 / macro-F1: of each model's calibrated label sets (per-label thresholds fitted "
        "on validation, labelsphere.calibration); — for runs saved before thresholds were kept.",
        "",
        "## Speed: steps and seconds needed to reach the baseline's best validation MAP@100 (same seed)",
        "",
        "| head | reached | median steps | steps ratio vs baseline | median seconds | steps to 90% of it (ratio) | steps run | train seconds | head weights: trained / fixed | RSS added at peak (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = lambda v, fmt: "—" if v is None else format(v, fmt)  # noqa: E731
        lines.append(
            f"| {r['head']} | {r['reached']} | {f(r['steps_to_baseline'], '.0f')} | {f(r['steps_ratio'], '.2f')} | "
            f"{f(r['seconds_to_baseline'], '.1f')} | {f(r['steps90'], '.0f')} ({f(r['steps90_ratio'], '.2f')}) | "
            f"{r['total_steps']} | {r['train_seconds']:.1f} | "
            f"{f(r['head_parameters'], ',d')} / {f(r['head_fixed'], ',d')} | {f(r['peak_rss_mb'], '.0f')} |"
        )
    lines += [
        "",
        "Head weights: numbers of trained parameters and of fixed values (the label embedding) "
        "in the output layer, the part that grows with the number of labels. RSS added at "
        "peak: resident memory a run added to this process at its peak (psutil, sampled every "
        "50 ms), median over seeds. Runs in one `compare` reuse memory the allocator kept from "
        "earlier runs, so small heads often show about 0.",
    ]
    lines += _budget_lines(summary)
    lines += _budget_test_lines(summary)
    published = PUBLISHED.get(summary["dataset"].split("/")[0])
    if published:
        lines += [
            "",
            "## Published P@1 / P@3 / P@5 (%) on the same split",
            "",
            "| method | P@1 | P@3 | P@5 |",
            "|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| labelsphere {r['head']} | {100 * r['P@1'][0]:.2f} | {100 * r['P@3'][0]:.2f} | {100 * r['P@5'][0]:.2f} |"
            )
        for name, (p1, p3, p5) in published.items():
            lines.append(f"| {name} | {p1:.2f} | {p3:.2f} | {p5:.2f} |")
    searched = sorted({float(lr) for res in summary["heads"].values() for lr in res["lr_search"]})
    given = {float(lr) for lr in summary["lrs"]}
    added = [f"{lr:g}" for lr in searched if lr not in given]
    lines += [
        "",
        "## Learning-rate search (validation MAP@100, seed 0)",
        "",
        f"The given grid: {', '.join(f'{lr:g}' for lr in sorted(given))}. "
        + (
            f"Added beyond it ({', '.join(added)}) because a head's best rate (over the whole "
            "budget or within a shorter one) was at the grid's edge."
            if added
            else "No rate was added beyond it."
        ),
        "",
        "| head | " + " | ".join(f"{lr:g}" for lr in searched) + " |",
        "|---|" + "---|" * len(searched),
    ]
    for spec, res in summary["heads"].items():
        cells = [
            f"{res['lr_search'][f'{lr:g}']:.4f}" if f"{lr:g}" in res["lr_search"] else "—"
            for lr in searched
        ]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Curves",
        "",
        "![validation curves over steps](curves_steps.png)",
        "",
        "![validation curves over wall-clock time](curves_time.png)",
        "",
    ]
    return "\n".join(lines)

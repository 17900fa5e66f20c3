"""The paper's regime: tables and the data-scaling plot from ``labelsphere compare`` runs.

Reads the ``results.json`` of finished comparisons (iconify-icons in the frozen and end-to-end
settings, the feature sets rerun with the prior-bias baseline) and writes, nothing retyped:

* per comparison, every head's test metrics at its tuned rate (mean over seeds), the test
  MAP@100 at each budget (rate re-tuned per budget on validation; see ``compare``'s
  ``budget_seeds``), its ratio to the baseline, steps and seconds to the baseline's best
  validation MAP@100, and the wall-clock of its runs;
* the data-scaling plot: the default head's test MAP@100 over the baseline's, against the
  number of training samples, from these runs and the earlier nested-subset sweeps
  (``docs/benchmarks/data_scaling_*.json``, whose baseline is the plain sigmoid head), and
  points from ``benchmarks/run_budgets.py``'s JSON (``--budgets-json``: runs pooled across lanes
  or machines, whose comparison has no single ``results.json``).

    python benchmarks/paper_regime.py runs/iconify-frozen-40k runs/iconify-e2e-8k \\
        --md docs/benchmarks/paper_regime.md --json docs/benchmarks/paper_regime.json \\
        --png docs/benchmarks/data_scaling_all.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
METRICS = ("MAP@100", "mAP", "P@1", "P@5", "PSP@5")


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def summarize(path: Path) -> dict[str, Any]:
    """One comparison's rows: per head, metrics, budgets, speed and time."""
    s = json.loads((path / "results.json").read_text())
    base = s["baseline"]
    heads = s["heads"]
    base_map = _mean([r["test"]["MAP@100"] for r in heads[base]["runs"]])
    base_budgets = heads[base].get("budget_test", {})
    rows = []
    for spec, res in heads.items():
        runs = res["runs"]
        test = {m: _mean([r["test"].get(m) for r in runs]) for m in METRICS}
        reach = [r["to_baseline_best"] for r in runs]
        base_runs = heads[base]["runs"]
        steps_ratio = [
            r["steps"] / b["best"]["step"]
            for r, b in zip(reach, base_runs, strict=False)
            if r["steps"] is not None
        ]
        secs_ratio = [
            r["seconds"] / b["best"]["seconds"]
            for r, b in zip(reach, base_runs, strict=False)
            if r["seconds"] is not None
        ]
        budgets = {}
        for e, bt in res.get("budget_test", {}).items():
            v = bt["test"]["MAP@100"]
            b = base_budgets.get(e, {}).get("test", {}).get("MAP@100")
            budgets[e] = {
                "MAP@100": v,
                "ratio": None if not b else v / b,
                "lr": bt["lr"],
                "n_seeds": bt["n_seeds"],
            }
        rows.append(
            {
                "head": spec,
                "lr": res["lr"],
                "lr_searched": sorted(res["lr_search"], key=float),
                "n_seeds": len(runs),
                "test": test,
                "ratio": None if not base_map else test["MAP@100"] / base_map,
                "steps_to_baseline_best": statistics.median(steps_ratio) if steps_ratio else None,
                "seconds_to_baseline_best": statistics.median(secs_ratio) if secs_ratio else None,
                "reached": f"{len(steps_ratio)}/{len(runs)}",
                "seconds_per_run": _mean([r["seconds"] for r in runs]),
                "budgets": budgets,
            }
        )
    return {
        "dir": str(path),
        "dataset": s["dataset"],
        "baseline": base,
        "n_train": s["n_train"],
        "n_val": s["n_val"],
        "n_test": s["n_test"],
        "n_labels": s["n_labels"],
        "epochs": s["config"]["epochs"],
        "backbone": s["config"].get("backbone"),
        "run_minutes": s.get("run_seconds", 0) / 60,
        "n_runs": s.get("n_runs"),
        "rows": rows,
    }


def _f(v: float | None, fmt: str = ".4f") -> str:
    return "—" if v is None else format(v, fmt)


def markdown(comparisons: list[dict[str, Any]]) -> str:
    out = []
    for c in comparisons:
        budgets = sorted({e for r in c["rows"] for e in r["budgets"]}, key=float)
        out += [
            f"### {c['dataset']} ({c['backbone'] or 'features'}): {c['n_train']:,} train / "
            f"{c['n_val']:,} val / {c['n_test']:,} test, {c['n_labels']:,} labels, "
            f"{c['epochs']} epochs, baseline `{c['baseline']}`",
            "",
            f"`{c['dir']}`: {c['n_runs']} runs, {c['run_minutes']:.0f} min of training.",
            "",
            "| head | lr | seeds | MAP@100 | mAP | P@1 | P@5 | PSP@5 | vs baseline | steps to baseline's best | seconds to it | s / run |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in c["rows"]:
            t = r["test"]
            out.append(
                f"| {r['head']} | {r['lr']:g} | {r['n_seeds']} | {_f(t['MAP@100'])} | "
                f"{_f(t['mAP'])} | {_f(t['P@1'])} | {_f(t['P@5'])} | {_f(t['PSP@5'])} | "
                f"{_f(r['ratio'], '.3f')}× | {_f(r['steps_to_baseline_best'], '.2f')}× ({r['reached']}) | "
                f"{_f(r['seconds_to_baseline_best'], '.2f')}× | {_f(r['seconds_per_run'], '.0f')} |"
            )
        if budgets:
            out += [
                "",
                "Test MAP@100 within each budget (rate re-tuned per budget; ratio to the baseline):",
                "",
                "| head | " + " | ".join(f"{e} ep" for e in budgets) + " |",
                "|---|" + "---|" * len(budgets),
            ]
            for r in c["rows"]:
                cells = []
                for e in budgets:
                    b = r["budgets"].get(e)
                    cells.append(
                        "—"
                        if b is None
                        else f"{b['MAP@100']:.4f} ({_f(b['ratio'], '.3f')}×, n={b['n_seeds']})"
                    )
                out.append(f"| {r['head']} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def scaling_points(comparisons: list[dict[str, Any]], head: str) -> list[dict[str, Any]]:
    """The ratio points of ``head`` (names separated by ";" are one head under two specs)."""
    names = head.split(";")
    pts = []
    seen: dict[tuple, dict[str, Any]] = {}
    for c in comparisons:
        row = next((r for n in names for r in c["rows"] if r["head"] == n), None)
        key = (c["dataset"], c["backbone"], c["n_train"])
        if row is None or row["ratio"] is None:
            continue
        one, three, five = (row["budgets"].get(e, {}).get("ratio") for e in ("1", "3", "5"))
        if key in seen:
            # A second comparison on the same data is not a new point: the first listed gives
            # each budget's ratio; a later one adds the budgets it lacks and a longer largest one.
            p = seen[key]
            for k, v in (
                ("ratio_1_epoch", one),
                ("ratio_3_epochs", three),
                ("ratio_5_epochs", five),
            ):
                if p[k] is None:
                    p[k] = v
            if c["epochs"] > p["epochs"]:
                p["ratio"], p["epochs"] = row["ratio"], c["epochs"]
            continue
        seen[key] = p = {
            "source": f"{c['dataset']} ({c['backbone'] or 'features'})",
            "n_train": c["n_train"],
            "epochs": c["epochs"],
            "ratio": row["ratio"],
            "ratio_1_epoch": one,
            # the budget every iconify run reached, the full set's largest
            "ratio_3_epochs": three,
            # the common budget of the nested iconify subsets (the largest ran 5 epochs)
            "ratio_5_epochs": five,
            "baseline": c["baseline"],
        }
        pts.append(p)
    for f in sorted((REPO / "docs" / "benchmarks").glob("data_scaling_*.json")):
        d = json.loads(f.read_text())
        if "rows" not in d:
            continue
        base = d.get("baseline", "sigmoid")
        for row in d["rows"]:
            name = next((n for n in names if n in row), None)
            if name is None or base not in row:
                continue
            e, s = _mean(row[name]["test_MAP@100"]), _mean(row[base]["test_MAP@100"])
            pts.append(
                {
                    "source": f"{d['dataset']} subsets",
                    "n_train": row["n_train"],
                    "ratio": e / s,
                    "ratio_1_epoch": None,
                    "ratio_3_epochs": None,
                    "ratio_5_epochs": None,
                    "baseline": base,
                }
            )
    return pts


def points_markdown(points: list[dict[str, Any]]) -> str:
    """The scaling points as a table, smallest training set first."""
    out = [
        "Ratio of test MAP@100 to the baseline's, by training-set size:",
        "",
        "| source | train samples | baseline | 1 ep | 3 ep | 5 ep | largest budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in sorted(points, key=lambda p: (p["n_train"], p["source"])):
        cells = [_f(p.get(k), ".3f") for k in ("ratio_1_epoch", "ratio_3_epochs", "ratio_5_epochs")]
        last = f"{p['ratio']:.3f} ({p['epochs']} ep)" if "epochs" in p else f"{p['ratio']:.3f}"
        out.append(
            f"| {p['source']} | {p['n_train']:,} | {p['baseline']} | {' | '.join(cells)} | {last} |"
        )
    return "\n".join(out) + "\n"


def budgets_point(path: Path, label: str, baseline: str, n_train: int, source: str) -> dict:
    """A scaling point from ``benchmarks/run_budgets.py``'s JSON: ``label``'s test MAP@100 over
    ``baseline``'s at each budget (the largest budget both reach is the point's ratio)."""
    try:
        budgets = json.loads(path.read_text())["budgets"]
        row, base = budgets[label], budgets[baseline]
        ratios = {
            e: row[e]["test"]["MAP@100"] / base[e]["test"]["MAP@100"] for e in row if e in base
        }
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ZeroDivisionError) as e:
        raise SystemExit(f"{path}: no budgets for {label!r} and {baseline!r} ({e!r})") from None
    if not ratios:
        raise SystemExit(f"{path}: {label!r} and {baseline!r} share no budget")
    last = max(ratios, key=int)
    return {
        "source": source,
        "n_train": n_train,
        "epochs": int(last),
        "ratio": ratios[last],
        "ratio_1_epoch": ratios.get("1"),
        "ratio_3_epochs": ratios.get("3"),
        "ratio_5_epochs": ratios.get("5"),
        "baseline": baseline,
    }


def plot(points: list[dict[str, Any]], head: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for source in sorted({p["source"] for p in points}):
        ps = sorted((p for p in points if p["source"] == source), key=lambda p: p["n_train"])
        ax.plot(
            [p["n_train"] for p in ps],
            [p["ratio"] for p in ps],
            "o-",
            label=f"{source}, largest budget run",
        )
        for key, marker, what in (
            ("ratio_1_epoch", "s--", "1 epoch"),
            ("ratio_3_epochs", "v-.", "3 epochs"),
            ("ratio_5_epochs", "^:", "5 epochs"),
        ):
            at = [p for p in ps if p.get(key) is not None]
            if at:
                ax.plot(
                    [p["n_train"] for p in at],
                    [p[key] for p in at],
                    marker,
                    label=f"{source}, {what}",
                )
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(1.07, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test MAP@100 / baseline's")
    head = head.split(";")[0]
    # a long head spec would push the title and the axis label off the figure
    ax.set_title(
        f"Does {head}\ngain with more data?"
        if len(head) > 40
        else f"Does {head} gain with more data?"
    )
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)


def plot_by_budget(points: list[dict[str, Any]], head: str, png: Path) -> None:
    """One marker per source, one colour per budget: the ratio against training-set size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    head = head.split(";")[0]
    budgets = (
        ("ratio", "C0", "largest budget run (30 epochs on the feature sets)"),
        ("ratio_3_epochs", "C2", "3 epochs"),
        ("ratio_1_epoch", "C1", "1 epoch"),
    )
    markers = "osD^v<>pXh*"
    sources = sorted({p["source"] for p in points})
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for source, marker in zip(sources, markers, strict=False):
        ps = sorted((p for p in points if p["source"] == source), key=lambda p: p["n_train"])
        for key, colour, _ in budgets:
            at = [p for p in ps if p.get(key) is not None]
            if at:
                ax.plot(
                    [p["n_train"] for p in at],
                    [p[key] for p in at],
                    marker=marker,
                    color=colour,
                    ls="-" if len(at) > 1 else "",
                    lw=1,
                    ms=7,
                    alpha=0.85,
                )
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(1.07, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test MAP@100 / baseline's")
    ax.set_title(f"{head} against the prior-bias sigmoid head, by training-set size")
    handles = [Line2D([], [], color=c, lw=2, label=what) for _, c, what in budgets]
    handles += [
        Line2D([], [], color="grey", marker=m, ls="", label=s)
        for s, m in zip(sources, markers, strict=False)
    ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="*", type=Path, help="compare output directories")
    ap.add_argument(
        "--budgets-json",
        nargs=5,
        action="append",
        default=[],
        metavar=("JSON", "LABEL", "BASELINE", "N_TRAIN", "SOURCE"),
        help="a scaling point from benchmarks/run_budgets.py's JSON (runs pooled across lanes)",
    )
    ap.add_argument(
        "--head",
        default="embedding",
        help="the head whose ratio is plotted (';'-separated names: one head, several specs)",
    )
    ap.add_argument("--md", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    ap.add_argument(
        "--by-budget",
        action="store_true",
        help="the plot's colours are budgets and its markers sources (fewer legend entries)",
    )
    a = ap.parse_args(argv)
    if not a.dirs and not a.budgets_json:
        ap.error("give compare directories or --budgets-json")
    missing = [d for d in a.dirs if not (d / "results.json").is_file()]
    if missing:
        print(f"error: no results.json in {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    comparisons = [summarize(d) for d in a.dirs]
    text = markdown(comparisons)
    print(text)
    points = scaling_points(comparisons, a.head)
    for path, label, baseline, n_train, source in a.budgets_json:
        if not n_train.isdigit():
            ap.error(f"--budgets-json {path}: N_TRAIN must be a count, got {n_train!r}")
        points.append(budgets_point(Path(path), label, baseline, int(n_train), source))
    if points:
        table = points_markdown(points)
        print(table)
        text = f"{text}\n{table}" if text else table
    from labelsphere.artifacts import atomic_write_text, write_json

    if a.md:
        atomic_write_text(a.md, text)
    if a.json:
        write_json(
            a.json, {"command": " ".join(sys.argv), "comparisons": comparisons, "scaling": points}
        )
    if a.png:
        (plot_by_budget if a.by_budget else plot)(points, a.head, a.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())

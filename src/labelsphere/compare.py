"""The fair comparison: several heads, identical networks, data and budgets, tuned and seeded.

``compare`` runs, for each head:

1. a learning-rate search on the validation split (seed 0, one run per candidate rate), and
2. ``n_seeds`` runs at the chosen rate (the search run at that rate is reused as seed 0),

then evaluates every run's best checkpoint (by validation MAP@100) on the test split, and
writes into the output directory ``results.json``, ``report.md`` and PNG curves of validation
MAP@100 and P@1 over steps and over wall-clock seconds (mean over seeds, band = min..max).

With a constant learning rate the first e epochs of a run are the run with an e-epoch budget,
so the report also shows which head is ahead at shorter budgets (``best_within_budgets``):
the label-embedding head's advantage is largest there.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelsphere.artifacts import atomic_write_text, write_json
from labelsphere.data import MultiLabelDataset
from labelsphere.train import HEADS, TrainConfig, evaluate_model, load_model, train

__all__ = ["PUBLISHED", "HeadSpec", "best_within_budgets", "compare", "parse_head_spec"]

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

_CONFIG_KEYS = {
    "lr",
    "dropout",
    "input_dropout",
    "mixup",
    "hidden",
    "n_components",
    "weight_decay",
    "batch_size",
}
_EMBEDDING_KEYS = {"pmi", "diagonal", "factorization", "smoothing", "solver"}
REPORT_METRICS = ("MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5")


@dataclass
class HeadSpec:
    """A head to compare: its name, options and config overrides, parsed from a spec string.

    ``"embedding[loss=softmax,similarity=cosine,n_components=128]"``: keys that are
    ``TrainConfig`` fields (lr, dropout, input_dropout, mixup, hidden, n_components, weight_decay, batch_size) override
    the shared config; ``LabelEmbedding`` parameters (pmi, diagonal, factorization, smoothing,
    solver) go to the embedding; everything else is a head option. A spec that sets ``lr``
    skips the learning-rate search.
    """

    spec: str
    head: str
    head_options: dict[str, Any] = field(default_factory=dict)
    embedding_options: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self, base: TrainConfig, **kw: Any) -> TrainConfig:
        return replace(
            base,
            head=self.head,
            head_options={**base.head_options, **self.head_options},
            embedding_options={**base.embedding_options, **self.embedding_options},
            **{**self.overrides, **kw},
        )


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_head_spec(spec: str) -> HeadSpec:
    """Parse ``name`` or ``name[key=value,...]`` (values as JSON where they parse)."""
    s = spec.strip()
    name, opts = s, ""
    if "[" in s:
        if not s.endswith("]"):
            raise ValueError(f"head spec {spec!r}: expected name[key=value,...]")
        name, opts = s[:-1].split("[", 1)
    if name not in HEADS:
        raise ValueError(
            f"head spec {spec!r}: unknown head {name!r}; choose one of {sorted(HEADS)}"
        )
    out = HeadSpec(spec=s, head=name)
    for item in filter(None, (p.strip() for p in opts.split(","))):
        if "=" not in item:
            raise ValueError(f"head spec {spec!r}: option {item!r} is not key=value")
        key, raw = (t.strip() for t in item.split("=", 1))
        value = _value(raw)
        if key in _CONFIG_KEYS:
            out.overrides[key] = tuple(value) if key == "hidden" else value
        elif key in _EMBEDDING_KEYS:
            out.embedding_options[key] = value
        else:
            out.head_options[key] = value
    return out


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in spec).strip("_")


def _steps_to_reach(
    history: list[dict], target: float, key: str = "MAP@100"
) -> tuple[int | None, float | None]:
    for h in history:
        if h[key] >= target:
            return int(h["step"]), float(h["seconds"])
    return None, None


BUDGETS = (1, 2, 3, 5, 10, 20, 30, 50, 100)


def best_within_budgets(
    histories: dict[str, list[dict[str, Any]]],
    budgets: Sequence[float],
    key: str = "MAP@100",
) -> dict[str, dict[str, Any]]:
    """For each budget (epochs), the run with the best validation ``key`` within it, and that value.

    Args:
        histories: learning rate (as text) -> the evaluations of one run at that rate, each
            with ``"epoch"`` and ``key``. The runs must use a constant learning rate, so that
            their first e epochs are the runs with an e-epoch budget.
        budgets: budgets in epochs.

    Returns:
        ``{str(budget): {"lr": rate, "value": best value}}``, for the budgets at which some run
        has an evaluation.

    Examples:
        >>> h = {"0.001": [{"epoch": 1, "MAP@100": 0.2}, {"epoch": 2, "MAP@100": 0.5}],
        ...      "0.003": [{"epoch": 1, "MAP@100": 0.3}, {"epoch": 2, "MAP@100": 0.4}]}
        >>> best_within_budgets(h, [1, 2])
        {'1': {'lr': '0.003', 'value': 0.3}, '2': {'lr': '0.001', 'value': 0.5}}
    """
    out: dict[str, dict[str, Any]] = {}
    for e in budgets:
        best: tuple[float, str] | None = None
        for lr, history in histories.items():
            within = [h[key] for h in history if h["epoch"] <= e + 1e-9]  # float epochs
            if within and (best is None or max(within) > best[0]):
                best = (max(within), lr)
        if best is not None:
            out[f"{e:g}"] = {"lr": best[1], "value": float(best[0])}
    return out


def compare(
    dataset: str,
    train_data: MultiLabelDataset,
    val_data: MultiLabelDataset,
    test_data: MultiLabelDataset,
    heads: Sequence[str],
    base: TrainConfig,
    out_dir: str | Path,
    n_seeds: int = 3,
    lrs: Sequence[float] = (3e-4, 1e-3, 3e-3),
    progress: bool = True,
    resume: bool = True,
    feature_extractor: Any = None,
) -> dict[str, Any]:
    """Run the comparison and write ``results.json``, ``report.md`` and the curve plots.

    Args:
        dataset: a name for the report (and to look up published results).
        heads: head specs (see ``HeadSpec``); ``"sigmoid"`` is added if absent, since every
            comparison is against the baseline.
        base: the shared budget and network; each head's ``lr`` is searched over ``lrs``.
        resume: reuse finished runs found in ``out_dir`` (a run is finished when its
            ``result.json`` says so), and resume interrupted ones.
        feature_extractor: the frozen image backbone that produced the features, if any
            (saved with every model so it can predict from image files).

    Returns:
        The content of ``results.json``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = [parse_head_spec(h) for h in heads]
    if not any(s.head == "sigmoid" and not s.head_options for s in specs):
        specs.append(parse_head_spec("sigmoid"))
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    t0 = time.perf_counter()

    def run(spec: HeadSpec, lr: float, seed: int) -> dict[str, Any]:
        cfg = spec.config(base, lr=lr, seed=seed)
        run_dir = out_dir / "runs" / _slug(spec.spec) / f"lr={lr:g}" / f"seed={seed}"
        done = run_dir / "result.json"
        if resume and done.is_file():
            saved = json.loads(done.read_text())
            # Read through from_json so a run saved before a field existed (which then has
            # its default) still counts as the same run.
            cfg_path = run_dir / "config.json"
            cfg_saved = TrainConfig.from_json(json.loads(cfg_path.read_text()), str(cfg_path))
            if saved.get("complete") and cfg_saved == cfg:
                return {
                    **saved,
                    "history": [
                        json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()
                    ],
                    "run_dir": str(run_dir),
                }
        r = train(
            cfg,
            train_data,
            val_data,
            run_dir,
            resume=resume,
            progress=progress,
            feature_extractor=feature_extractor,
        )
        return {
            "best": r.best,
            "steps": r.steps,
            "seconds": r.seconds,
            "history": r.history,
            "run_dir": str(run_dir),
            "peak_rss_mb": r.peak_rss_mb,
        }

    results: dict[str, Any] = {}
    run_seconds = 0.0  # every run's own time, whether it ran now or in an earlier invocation
    for spec in specs:
        grid = [spec.overrides["lr"]] if "lr" in spec.overrides else list(lrs)
        search = {lr: run(spec, lr, 0) for lr in grid}
        best_lr = max(grid, key=lambda lr: search[lr]["best"]["MAP@100"])
        runs = [search[best_lr]] + [run(spec, best_lr, s) for s in range(1, n_seeds)]
        run_seconds += sum(r["seconds"] for r in search.values()) + sum(
            r["seconds"] for r in runs[1:]
        )
        for r in runs:
            model, _, _ = load_model(Path(r["run_dir"]) / "model")
            # What the output layer costs, the number that grows with L: trained parameters
            # and fixed buffers (the label embedding of the embedding heads).
            r["head_parameters"] = sum(p.numel() for p in model.head.parameters())
            r["head_fixed"] = sum(b.numel() for b in model.head.buffers())
            r["test"] = evaluate_model(
                model,
                test_data.X,
                test_data.Y,
                next(model.parameters()).device,
                _propensities(train_data),
            )
        results[spec.spec] = {
            "head": spec.head,
            "lr": best_lr,
            "lr_search": {f"{lr:g}": search[lr]["best"]["MAP@100"] for lr in grid},
            "runs": runs,
        }
        if base.schedule == "constant" and base.warmup == 0:
            budgets = [e for e in BUDGETS if e < base.epochs] + [base.epochs]
            results[spec.spec]["budgets"] = best_within_budgets(
                {f"{lr:g}": search[lr]["history"] for lr in grid}, budgets
            )
    baseline = next(s.spec for s in specs if s.head == "sigmoid" and not s.head_options)
    _add_speed(results, baseline, n_seeds)
    summary = {
        "dataset": dataset,
        "baseline": baseline,
        "n_train": len(train_data),
        "n_val": len(val_data),
        "n_test": len(test_data),
        "n_labels": train_data.Y.shape[1],
        "n_features": train_data.X.shape[1] if hasattr(train_data.X, "shape") else None,
        "backbone": None if feature_extractor is None else feature_extractor.name,
        "skipped_images": {
            d.name: len((d.info or {}).get("skipped_images", []))
            for d in (train_data, val_data, test_data)
        },
        "config": base.to_json(),
        "n_seeds": n_seeds,
        "lrs": list(lrs),
        "seconds": time.perf_counter() - t0,
        "run_seconds": run_seconds,
        "n_runs": sum(len(r["lr_search"]) + n_seeds - 1 for r in results.values()),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": base.device
            if base.device != "auto"
            else ("cuda" if torch.cuda.is_available() else "cpu"),
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "heads": results,
    }
    write_json(out_dir / "results.json", summary)
    from labelsphere.plots import plot_curves

    plot_curves(summary, out_dir)
    atomic_write_text(out_dir / "report.md", render_report(summary))
    return summary


def _propensities(train_data: MultiLabelDataset) -> np.ndarray:
    from labelsphere.metrics import propensity_scores

    return propensity_scores(train_data.Y)


def _add_speed(results: dict[str, Any], baseline: str, n_seeds: int) -> None:
    """Steps and seconds each run needs to reach the baseline's best validation MAP@100 (same seed)."""
    base_runs = results[baseline]["runs"]
    for res in results.values():
        for seed, r in enumerate(res["runs"]):
            target = base_runs[seed]["best"]["MAP@100"]
            steps, secs = _steps_to_reach(r["history"], target)
            r["to_baseline_best"] = {"target": target, "steps": steps, "seconds": secs}
            # The early lead, also where the baseline's best is never reached: 90% of it.
            steps90, secs90 = _steps_to_reach(r["history"], 0.9 * target)
            r["to_baseline_90"] = {"target": 0.9 * target, "steps": steps90, "seconds": secs90}


def _mean_std(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.4f}"


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
            vals = [r["test"][m] for r in runs]
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


def _budget_lines(summary: dict[str, Any]) -> list[str]:
    heads = summary["heads"]
    base = heads[summary["baseline"]].get("budgets")
    if not base:
        return []
    budgets = list(base)
    lines = [
        "",
        "## Shorter budgets: best validation MAP@100 within e epochs, relative to the baseline",
        "",
        "Learning rate re-chosen per budget from the same grid (seed 0); with a constant learning "
        "rate the first e epochs of a run are the e-epoch run. The baseline's row gives its value. "
        "The grid was chosen for the full budget: a head that wants a higher rate for a short "
        "budget (the sigmoid head usually does) is understated here; add a short run at higher "
        "rates (`--epochs 10 --lrs 1e-2,3e-2`) and merge both with benchmarks/budget_table.py.",
        "",
        "| head | " + " | ".join(f"{e} ep" for e in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for spec, res in heads.items():
        own = res.get("budgets", {})
        cells = []
        for e in budgets:
            if e not in own:
                cells.append("—")
            elif spec == summary["baseline"]:
                cells.append(f"{own[e]['value']:.4f}")
            else:
                cells.append(f"{own[e]['value'] / base[e]['value']:.3f}×")
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    return lines


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
        f"(warm-up {cfg['warmup']}), d={cfg['n_components']} for embedding heads (capped at L − 1). "
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
        cells = [f"{r[m][0]:.4f} ± {r[m][1]:.4f}" for m in REPORT_METRICS]
        rel = r["MAP@100"][0] / base["MAP@100"][0] if base["MAP@100"][0] else float("nan")
        lines.append(f"| {r['head']} | {r['lr']:g} | " + " | ".join(cells) + f" | {rel:.3f}× |")
    lines += [
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
    lines += [
        "",
        "## Learning-rate search (validation MAP@100, seed 0)",
        "",
        "| head | " + " | ".join(f"{lr:g}" for lr in summary["lrs"]) + " |",
        "|---|" + "---|" * len(summary["lrs"]),
    ]
    for spec, res in summary["heads"].items():
        cells = [
            f"{res['lr_search'][f'{lr:g}']:.4f}" if f"{lr:g}" in res["lr_search"] else "—"
            for lr in summary["lrs"]
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

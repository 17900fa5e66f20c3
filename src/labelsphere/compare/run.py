"""The fair comparison: several heads, identical networks, data and budgets, tuned and seeded.

``compare`` runs, for each head:

1. a learning-rate search on the validation split (seed 0, one run per candidate rate), and
2. ``n_seeds`` runs at the chosen rate (the search run at that rate is reused as seed 0),

then evaluates every run's best checkpoint (by validation MAP@100) on the test split through
``Predictor.evaluate`` (the same metrics as ``labelsphere evaluate``), and writes into the
output directory ``results.json``, ``report.md`` and PNG curves of validation MAP@100 and P@1
over steps and over wall-clock seconds (mean over seeds, band = min..max). Each run lives in
its own ``RunDir`` (``runs/<spec>/lr=<lr>/seed=<seed>``); a finished one is reused, and one
finished with fewer epochs at a constant rate is continued (``TrainConfig.extends``), so a
longer budget in the same directory trains only the epochs it adds.

With a constant learning rate the first e epochs of a run are the run with an e-epoch budget,
so the report also shows which head is ahead at shorter budgets (``best_within_budgets``).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from labelsphere.artifacts import atomic_write_text, write_json
from labelsphere.compare.report import render_report
from labelsphere.compare.speed import (
    BUDGETS,
    add_speed,
    best_within_budgets,
    budget_test_metrics,
    edge_extensions,
)
from labelsphere.data import MultiLabelDataset
from labelsphere.heads.registry import DEFAULT_HEAD
from labelsphere.heads.spec import HeadSpec, parse_head_spec
from labelsphere.metrics import propensity_scores
from labelsphere.train import RunDir, TrainConfig, train
from labelsphere.train.inputs import ImageOptions, prepare_inputs

__all__ = ["compare", "compare_dataset", "run_dir_for", "run_slug"]


def run_slug(spec: str) -> str:
    """The folder name of a head spec's runs (``embedding[loss=softmax]`` -> ``embedding_loss=softmax``)."""
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in spec).strip("_")


def run_dir_for(out_dir: str | Path, spec: str, lr: float, seed: int) -> RunDir:
    """The ``RunDir`` of one run of a comparison in ``out_dir``."""
    return RunDir(Path(out_dir) / "runs" / run_slug(spec) / f"lr={lr:g}" / f"seed={seed}")


def _check_only_seed(only_seed: int | None, n_seeds: int) -> None:
    if only_seed is not None and not 0 <= only_seed < n_seeds:
        raise ValueError(
            f"only_seed must be in 0..{n_seeds - 1} (n_seeds={n_seeds}), got {only_seed}"
        )


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
    text_featurizer: Any = None,
    baseline: str = "sigmoid-prior",
    extend_grid: int = 2,
    budget_seeds: bool = False,
    only_seed: int | None = None,
) -> dict[str, Any]:
    """Run the comparison and write ``results.json``, ``report.md`` and the curve plots.

    Args:
        dataset: a name for the report (and to look up published results).
        heads: head specs (see ``HeadSpec``); the ``baseline`` is added if absent, since every
            comparison is against it.
        base: the shared budget and network; each head's ``lr`` is searched over ``lrs``.
        resume: reuse finished runs found in ``out_dir`` (a run is finished when its
            ``result.json`` says so), resume interrupted ones, and continue those finished
            with fewer epochs where ``base.extends`` their config (constant rate, no warmup).
        feature_extractor: the frozen image backbone that produced the features, if any
            (saved with every model so it can predict from image files).
        baseline: the head spec the others are measured against (added if absent), e.g.
            ``"sigmoid-prior"``, the sigmoid head with prior-bias initialisation.
        extend_grid: when a head's best rate (over the whole budget, or within any shorter
            budget) is at an end of ``lrs``, add one more rate beyond that end, up to this many
            times per head; 0 keeps the grid as given.
        budget_seeds: also run ``n_seeds`` seeds at each shorter budget's chosen rate, so
            every budget's test metrics (``budget_test``, recorded at every evaluation and
            read at the checkpoint validation picks within the budget) are over all seeds.
        only_seed: train only this seed's runs (0 <= only_seed < n_seeds) and write no
            report, so seeds can train in parallel processes over one ``out_dir``; a later
            call without it reuses them all and writes the report. For a seed above 0 the
            rates come from the finished seed-0 search runs, unless the grid is one rate and
            ``extend_grid`` is 0 (then nothing needs to be searched).

    Returns:
        The content of ``results.json``; with ``only_seed``, ``{"only_seed", "run_dirs"}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = [parse_head_spec(h) for h in heads]
    base_spec = parse_head_spec(baseline)
    # The baseline is the first spec of its head and options (a spec may add, e.g., epochs).
    baseline = next(
        (
            s.spec
            for s in specs
            if (s.head, s.head_options) == (base_spec.head, base_spec.head_options)
        ),
        base_spec.spec,
    )
    if baseline == base_spec.spec and base_spec.spec not in [s.spec for s in specs]:
        specs.append(base_spec)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    _check_only_seed(only_seed, n_seeds)
    t0 = time.perf_counter()
    propensities = propensity_scores(train_data.Y)

    def run(spec: HeadSpec, lr: float, seed: int) -> dict[str, Any]:
        cfg = spec.config(base, lr=lr, seed=seed)
        run_dir = run_dir_for(out_dir, spec.spec, lr, seed)
        if resume and run_dir.is_finished(cfg):
            return run_dir.summary()
        r = train(
            cfg,
            train_data,
            val_data,
            run_dir,
            resume=resume,
            progress=progress,
            feature_extractor=feature_extractor,
            text_featurizer=text_featurizer,
            test_data=test_data,
        )
        return {
            "best": r.best,
            "steps": r.steps,
            "seconds": r.seconds,
            "history": r.history,
            "run_dir": str(run_dir.path),
            "peak_rss_mb": r.peak_rss_mb,
        }

    def finished(spec: HeadSpec, lr: float, seed: int) -> dict[str, Any]:
        """A finished run's summary, for a seed lane that must not train the search itself."""
        run_dir = run_dir_for(out_dir, spec.spec, lr, seed)
        if not run_dir.is_finished(spec.config(base, lr=lr, seed=seed)):
            raise ValueError(
                f"only_seed={only_seed} needs the finished seed-0 search run {run_dir.path}: "
                "run seed 0 first (only_seed=0, or without only_seed), or give one rate "
                "with extend_grid=0"
            )
        return run_dir.summary()

    results: dict[str, Any] = {}
    run_seconds = 0.0  # every run's own time, whether it ran now or in an earlier invocation
    constant = base.schedule == "constant" and base.warmup == 0
    budgets = [e for e in BUDGETS if e < base.epochs] + [base.epochs]

    def picks(search: dict[float, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The rate validation picks within each budget (constant-rate runs only)."""
        if not constant:
            return {}
        return best_within_budgets({f"{lr:g}": r["history"] for lr, r in search.items()}, budgets)

    lane_dirs: list[str] = []
    for spec in specs:
        grid = sorted([spec.overrides["lr"]] if "lr" in spec.overrides else set(lrs))
        if only_seed and len(grid) == 1 and extend_grid == 0:
            # One rate and no extension: nothing to search, the seed trains at once.
            lane_dirs.append(run(spec, grid[0], only_seed)["run_dir"])
            continue
        search_run = finished if only_seed else run
        search = {lr: search_run(spec, lr, 0) for lr in grid}

        for _ in range(extend_grid):
            by_text = {f"{lr:g}": lr for lr in grid}
            picked = {max(grid, key=lambda lr: search[lr]["best"]["MAP@100"])}
            picked |= {by_text[p["lr"]] for p in picks(search).values()}
            new = [lr for lr in edge_extensions(grid, picked) if lr not in search]
            if not new:
                break
            search |= {lr: search_run(spec, lr, 0) for lr in new}
            grid = sorted(search)
        best_lr = max(grid, key=lambda lr: search[lr]["best"]["MAP@100"])
        seeded = {best_lr}
        if budget_seeds:
            by_text = {f"{lr:g}": lr for lr in grid}
            seeded |= {by_text[p["lr"]] for p in picks(search).values()}
        if only_seed is not None:
            lane = [search[lr] if only_seed == 0 else run(spec, lr, only_seed) for lr in seeded]
            lane_dirs += [r["run_dir"] for r in lane]
            continue
        runs_by_lr = {
            lr: [search[lr]] + [run(spec, lr, s) for s in range(1, n_seeds)]
            for lr in sorted(seeded)
        }
        runs = runs_by_lr[best_lr]
        run_seconds += sum(r["seconds"] for r in search.values()) + sum(
            r["seconds"] for rs in runs_by_lr.values() for r in rs[1:]
        )
        for r in runs:
            predictor = RunDir(r["run_dir"]).load_predictor()
            # What the output layer costs, the number that grows with L: trained parameters
            # and fixed buffers (the label embedding of the embedding heads).
            r["head_parameters"], r["head_fixed"] = predictor.head_size
            r["test"] = predictor.evaluate(test_data, propensities)
        results[spec.spec] = {
            "head": spec.head,
            "lr": best_lr,
            "lr_search": {f"{lr:g}": search[lr]["best"]["MAP@100"] for lr in grid},
            "lr_extended": [f"{lr:g}" for lr in grid if lr not in lrs],
            "runs": runs,
            "n_runs": len(search) + sum(len(rs) - 1 for rs in runs_by_lr.values()),
        }
        if constant:
            results[spec.spec]["budgets"] = picks(search)
            # Every searched rate has its seed-0 run; the seeded rates have all their seeds.
            histories = {f"{lr:g}": [r["history"]] for lr, r in search.items()}
            histories |= {f"{lr:g}": [r["history"] for r in rs] for lr, rs in runs_by_lr.items()}
            results[spec.spec]["budget_test"] = budget_test_metrics(
                histories, results[spec.spec]["budgets"]
            )
    if only_seed is not None:
        return {"only_seed": only_seed, "run_dirs": lane_dirs}
    add_speed(results, baseline, n_seeds)
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
        "n_runs": sum(r["n_runs"] for r in results.values()),
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


def compare_dataset(
    dataset: str,
    heads: Sequence[str] = (DEFAULT_HEAD, "sigmoid-prior"),
    out: str | Path | None = None,
    n_seeds: int = 3,
    lrs: Sequence[float] = (3e-4, 1e-3, 3e-3),
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    images: ImageOptions | None = None,
    progress: bool = True,
    dataset_options: dict[str, Any] | None = None,
    baseline: str = "sigmoid-prior",
    extend_grid: int = 2,
    budget_seeds: bool = False,
    only_seed: int | None = None,
    **fields: Any,
) -> tuple[dict[str, Any], Path]:
    """``compare`` on a dataset by name (or items file): what ``labelsphere compare`` runs.

    ``fields`` are the shared ``TrainConfig`` fields (``epochs``, ``hidden``...). Every spec
    is checked before any data is read. Returns the summary and the output directory
    (default ``runs/compare-<dataset>``).
    """
    lrs = list(lrs)
    if not lrs:
        raise ValueError("lrs: give at least one learning rate")
    for h in [*heads, baseline]:
        parse_head_spec(h)
    _check_only_seed(only_seed, n_seeds)
    base_fields = {**fields, "lr": lrs[0]}
    TrainConfig(head="sigmoid", **base_fields)  # the shared fields, checked before loading
    inputs = prepare_inputs(
        dataset, data_dir, val_fraction, images, progress, dataset_options=dataset_options
    )
    base = TrainConfig(head="sigmoid", **{**base_fields, **inputs.config})
    out_dir = Path(out) if out is not None else Path("runs") / f"compare-{Path(dataset).stem}"
    summary = compare(
        dataset,
        inputs.train,
        inputs.val,
        inputs.test,
        list(heads),
        base,
        out_dir,
        n_seeds=n_seeds,
        lrs=lrs,
        progress=progress,
        feature_extractor=inputs.feature_extractor,
        text_featurizer=inputs.text_featurizer,
        baseline=baseline,
        extend_grid=extend_grid,
        budget_seeds=budget_seeds,
        only_seed=only_seed,
    )
    return summary, out_dir

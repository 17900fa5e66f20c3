"""How fast each head learns: steps to reach the baseline's best, and the best within shorter budgets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BUDGETS",
    "add_speed",
    "best_within_budgets",
    "budget_test_metrics",
    "edge_extensions",
    "steps_to_reach",
]


def steps_to_reach(
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


def add_speed(results: dict[str, Any], baseline: str, n_seeds: int) -> None:
    """Steps and seconds each run needs to reach the baseline's best validation MAP@100 (same seed)."""
    base_runs = results[baseline]["runs"]
    for res in results.values():
        for seed, r in enumerate(res["runs"]):
            target = base_runs[seed]["best"]["MAP@100"]
            steps, secs = steps_to_reach(r["history"], target)
            r["to_baseline_best"] = {"target": target, "steps": steps, "seconds": secs}
            # The early lead, also where the baseline's best is never reached: 90% of it.
            steps90, secs90 = steps_to_reach(r["history"], 0.9 * target)
            r["to_baseline_90"] = {"target": 0.9 * target, "steps": steps90, "seconds": secs90}


def edge_extensions(
    grid: Sequence[float], picked: set[float], factor: float | None = None
) -> list[float]:
    """New rates beyond the ends of the sorted ``grid`` that were ``picked`` as best.

    A best rate at the edge of the grid says the optimum may lie outside it; the grid grows by
    one step (``factor``, default the grid's own top or bottom ratio) on that side. A grid of
    one rate is a fixed choice and never grows.

    Examples:
        >>> edge_extensions([3e-4, 1e-3, 3e-3], {3e-3})
        [0.009]
        >>> edge_extensions([3e-4, 1e-3, 3e-3], {1e-3})
        []
    """
    grid = sorted(grid)
    if len(grid) < 2:
        return []
    new = []
    if grid[-1] in picked:
        new.append(float(f"{grid[-1] * (factor or grid[-1] / grid[-2]):.3g}"))
    if grid[0] in picked:
        new.append(float(f"{grid[0] / (factor or grid[1] / grid[0]):.3g}"))
    return new


def budget_test_metrics(
    histories_by_lr: dict[str, list[list[dict[str, Any]]]],
    picks: dict[str, dict[str, Any]],
    key: str = "MAP@100",
) -> dict[str, dict[str, Any]]:
    """Test metrics, per budget, of the checkpoint validation picks within it, over seeds.

    Args:
        histories_by_lr: rate (as text) -> one history per seed, whose records carry the
            held-out ``"test"`` metrics (``train(..., test_data=...)``).
        picks: ``best_within_budgets``' rate per budget (tuned on seed 0's validation).

    Returns:
        ``{budget: {"lr", "n_seeds", "test": {metric: mean}, "test_min", "test_max",
        "per_seed": [{"epoch", "step", "seconds", "val", "test"}]}}`` for the budgets whose
        chosen records all have test metrics.
    """
    out: dict[str, dict[str, Any]] = {}
    for e, pick in picks.items():
        seeds = []
        for history in histories_by_lr.get(pick["lr"], []):
            within = [h for h in history if h["epoch"] <= float(e) + 1e-9]
            # The first best, as training keeps it (a later equal value does not replace it).
            best = max(within, key=lambda h: h[key], default=None)
            if best is None or "test" not in best:
                seeds = []
                break
            seeds.append(
                {k: best[k] for k in ("epoch", "step", "seconds")}
                | {"val": best[key], "test": best["test"]}
            )
        if not seeds:
            continue
        out[e] = seed_summary(pick["lr"], seeds)
    return out


def seed_summary(lr: str, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """One budget's entry of :func:`budget_test_metrics` from its per-seed picks.

    Args:
        lr: the rate the picks were trained at (as text).
        seeds: one ``{"epoch", "step", "seconds", "val", "test": {metric: value}}`` per seed,
            at least one; every seed carries the first one's test metrics.

    Returns:
        ``{"lr", "n_seeds", "test": {metric: mean}, "test_min", "test_max", "per_seed"}``.
    """
    metrics = seeds[0]["test"].keys()
    return {
        "lr": lr,
        "n_seeds": len(seeds),
        "test": {m: float(sum(s["test"][m] for s in seeds) / len(seeds)) for m in metrics},
        "test_min": {m: float(min(s["test"][m] for s in seeds)) for m in metrics},
        "test_max": {m: float(max(s["test"][m] for s in seeds)) for m in metrics},
        "per_seed": seeds,
    }

"""How fast each head learns: steps to reach the baseline's best, and the best within shorter budgets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BUDGETS", "add_speed", "best_within_budgets", "steps_to_reach"]


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

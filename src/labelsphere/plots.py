"""PNG plots of results: validation curves of a comparison, and label-embedding spectra.

matplotlib runs on the Agg backend (no display needed); every figure is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.artifacts import atomic_write

__all__ = ["plot_curves", "plot_spectrum"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight"))


def plot_curves(
    summary: dict[str, Any], out_dir: str | Path, metrics: tuple[str, ...] = ("MAP@100", "P@1")
) -> list[Path]:
    """Validation ``metrics`` per head over steps and over seconds: mean over seeds, band min..max.

    Writes ``curves_steps.png`` and ``curves_time.png`` into ``out_dir``; returns their paths.
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    paths = []
    for axis, fname, xlabel in (
        ("step", "curves_steps.png", "training steps"),
        ("seconds", "curves_time.png", "wall-clock seconds (training + validation)"),
    ):
        fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.2), squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=True):
            for spec, res in summary["heads"].items():
                curves = [
                    ([h[axis] for h in r["history"]], [h[metric] for h in r["history"]])
                    for r in res["runs"]
                ]
                if not curves or not curves[0][0]:
                    continue
                # Seeds evaluate at the same steps but different times: interpolate onto one grid.
                end = min(max(x) for x, _ in curves)
                grid = (
                    np.linspace(min(min(x) for x, _ in curves), end, 60)
                    if axis == "seconds"
                    else np.asarray(curves[0][0], float)
                )
                ys = np.array([np.interp(grid, x, y) for x, y in curves])
                (line,) = ax.plot(grid, ys.mean(0), label=f"{spec} (lr {res['lr']:g})", lw=1.8)
                if len(ys) > 1:
                    ax.fill_between(
                        grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2, lw=0
                    )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"validation {metric}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(
            f"{summary['dataset']}: validation {', '.join(metrics)} (mean over {summary['n_seeds']} seeds, band = min..max)"
        )
        path = out_dir / fname
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_spectrum(eigenvalues: np.ndarray, path: str | Path, title: str = "PMI spectrum") -> Path:
    """Sorted eigenvalues of a PMI matrix (the kept components), as a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    w = np.asarray(eigenvalues)
    ax.plot(np.arange(1, len(w) + 1), w, marker=".", lw=1)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("component")
    ax.set_ylabel("eigenvalue")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path

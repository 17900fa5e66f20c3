"""``RunDir``: the one place that knows a training run's files.

    run_dir/
      config.json      the TrainConfig
      metrics.jsonl    one JSON line per validation evaluation (step, epoch, seconds, loss, metrics;
                       "head": the head's diagnostics, such as a learned temperature)
      checkpoints/     step-N/ (weights, optimizer, state) and latest.json (see checkpoint.py)
      model/           the best model by validation MAP@100 (see model_dir.py), for Predictor
      result.json      written once, at the end: best evaluation, steps, seconds, complete, peak RSS
      test_metrics.json  written by ``labelsphere train`` after the test evaluation

``train`` writes through it, ``train(resume=True)`` and ``compare``'s reuse of finished runs
read through it, and so do the benchmarks that read runs off disk.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from labelsphere.artifacts import atomic_write_text, read_json, write_json
from labelsphere.train.checkpoint import load_checkpoint, save_checkpoint
from labelsphere.train.config import TrainConfig

if TYPE_CHECKING:
    import torch

    from labelsphere.predict import Predictor

__all__ = ["RunDir"]


class RunDir:
    """A training run's directory.

    Args:
        path: the run directory (created by :meth:`create`).

    Examples:
        >>> run = RunDir("runs/bibtex-embedding")
        >>> run.model_dir.as_posix()
        'runs/bibtex-embedding/model'
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def result_path(self) -> Path:
        return self.path / "result.json"

    @property
    def test_metrics_path(self) -> Path:
        return self.path / "test_metrics.json"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def create(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # ------------------------------------------------------------------ config
    def read_config(self) -> TrainConfig | None:
        """The saved config (fields added since it was written get their defaults), or None."""
        if not self.config_path.is_file():
            return None
        return TrainConfig.from_json(read_json(self.config_path), source=str(self.config_path))

    def write_config(self, config: TrainConfig, resume: bool = False) -> None:
        """Write ``config``; with ``resume``, first check it is the interrupted run's.

        A finished run that ``config`` extends (``TrainConfig.extends``: only more epochs, at
        a constant rate) is reopened: its ``result.json`` and ``test_metrics.json`` go first,
        so an interrupted extension is never taken for a finished run.
        """
        if resume:
            saved = self.read_config()
            if saved is not None and saved != config:
                if not config.extends(saved):
                    raise ValueError(
                        f"{self.config_path}: --resume with a different config than the "
                        "interrupted run (only more epochs at a constant rate can continue it)"
                    )
                history = self.read_history()
                ended = history[-1]["step"] if history else 0
                if config.eval_every and ended % config.eval_every:
                    # The shorter run evaluated at its end, which a longer one never does.
                    raise ValueError(
                        f"{self.path}: the run ended at step {ended}, not a multiple of "
                        f"eval_every ({config.eval_every}); more epochs would not match a run "
                        "trained that long"
                    )
                self.result_path.unlink(missing_ok=True)
                self.test_metrics_path.unlink(missing_ok=True)
        write_json(self.config_path, config.to_json())

    # ------------------------------------------------------------------ evaluations
    def read_history(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        return [json.loads(x) for x in self.metrics_path.read_text().splitlines() if x.strip()]

    def append_evaluation(self, record: dict[str, Any]) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def write_history(self, history: list[dict[str, Any]]) -> None:
        """Replace ``metrics.jsonl`` (on resume it may hold evaluations after the checkpoint)."""
        atomic_write_text(self.metrics_path, "".join(json.dumps(h) + "\n" for h in history))

    def clear_history(self) -> None:
        self.metrics_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(
        self, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict
    ) -> None:
        save_checkpoint(self.path, step, model, optimizer, state)

    def load_checkpoint(self) -> tuple[dict[str, Tensor], dict[str, Tensor], dict] | None:
        return load_checkpoint(self.path)

    # ------------------------------------------------------------------ result
    def write_result(self, result: dict[str, Any]) -> None:
        write_json(self.result_path, result)

    def read_result(self) -> dict[str, Any] | None:
        return read_json(self.result_path) if self.result_path.is_file() else None

    def is_finished(self, config: TrainConfig) -> bool:
        """Whether this directory holds a complete run of ``config`` (compare reuses it).

        Besides a complete ``result.json`` and an equal ``config.json``, the history must
        reach the config's budget (every run evaluates at its last step) unless it stopped
        early: a shorter run's ``result.json`` copied back beside a continued run's config
        (merging run directories by hand) is not taken for the longer run.
        """
        result = self.read_result()
        if not (result and result.get("complete")) or self.read_config() != config:
            return False
        if result.get("stopped_early"):
            return True
        try:
            last = self.read_history()[-1]
            if last["step"] != result.get("steps"):
                return False
            if config.max_steps is not None:
                return last["step"] == config.max_steps
            return math.isclose(last["epoch"], config.epochs)
        except (IndexError, KeyError, TypeError, ValueError):
            return False  # no or damaged history: resuming rewrites it from the checkpoint

    def summary(self) -> dict[str, Any]:
        """``result.json`` with the validation history and the directory: compare's record."""
        result = self.read_result() or {}
        return {**result, "history": self.read_history(), "run_dir": str(self.path)}

    # ------------------------------------------------------------------ the model
    def load_predictor(self, device: str | torch.device = "cpu") -> Predictor:
        """The best model of the run, ready to score inputs."""
        from labelsphere.predict import Predictor

        return Predictor.load(self.model_dir, device=device)

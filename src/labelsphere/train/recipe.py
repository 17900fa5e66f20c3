"""One call from a dataset name to a trained, test-evaluated model: what ``labelsphere train`` runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelsphere.artifacts import write_json
from labelsphere.heads.registry import DEFAULT_HEAD
from labelsphere.heads.spec import parse_head_spec
from labelsphere.train.config import TrainConfig
from labelsphere.train.inputs import ImageOptions, PreparedInputs, TextOptions, prepare_inputs
from labelsphere.train.loop import TrainResult, train
from labelsphere.train.rundir import RunDir

__all__ = ["TrainedModel", "config_from_spec", "train_dataset"]


def config_from_spec(head: str, **fields: Any) -> TrainConfig:
    """A ``TrainConfig`` from a head spec (``"embedding[loss=softmax]"``) and shared fields.

    The spec's options win over ``fields``; the spec is checked before anything runs.
    """
    return parse_head_spec(head).config(TrainConfig(**fields))


@dataclass
class TrainedModel:
    """A finished ``train_dataset``: the run, its test metrics and the inputs it used."""

    result: TrainResult
    test_metrics: dict[str, float]
    inputs: PreparedInputs

    @property
    def run(self) -> RunDir:
        return RunDir(self.result.run_dir)


def train_dataset(
    dataset: str,
    out: str | Path,
    head: str = DEFAULT_HEAD,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    images: ImageOptions | None = None,
    text: TextOptions | None = None,
    dataset_options: dict[str, Any] | None = None,
    resume: bool = False,
    progress: bool = True,
    **fields: Any,
) -> TrainedModel:
    """Load ``dataset`` (shared name or items file), train ``head`` on it, evaluate on test.

    ``fields`` are ``TrainConfig`` fields (``epochs``, ``lr``, ``hidden``...). Writes the run
    directory ``out`` (see ``RunDir``) including ``test_metrics.json``.

    Examples:
        >>> done = train_dataset("bibtex", "runs/bib", epochs=5)  # doctest: +SKIP
        >>> done.test_metrics["MAP@100"]  # doctest: +SKIP
    """
    config = config_from_spec(head, **fields)  # fails on a bad spec before any data is read
    inputs = prepare_inputs(
        dataset, data_dir, val_fraction, images, progress, text, dataset_options
    )
    inputs.test.check_finite()  # before training, not after it
    if inputs.config:
        config = parse_head_spec(head).config(TrainConfig(**{**fields, **inputs.config}))
    result = train(
        config,
        inputs.train,
        inputs.val,
        out,
        resume=resume,
        progress=progress,
        feature_extractor=inputs.feature_extractor,
        text_featurizer=inputs.text_featurizer,
    )
    if not result.is_main:  # the other processes of a distributed run leave the test to rank 0
        return TrainedModel(result, {}, inputs)
    metrics = result.evaluate(inputs.test)
    write_json(RunDir(out).test_metrics_path, metrics)
    return TrainedModel(result, metrics, inputs)

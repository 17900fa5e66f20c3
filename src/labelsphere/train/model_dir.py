"""The model directory: a self-contained trained model (config, weights, vocabulary)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labelsphere.artifacts import (
    FormatError,
    check_format,
    load_arrays,
    read_json,
    save_arrays,
    write_json,
)
from labelsphere.device import resolve_device
from labelsphere.labels import LabelVocabulary
from labelsphere.train.config import TrainConfig
from labelsphere.train.model import Classifier, build_classifier, image_backbone

__all__ = [
    "MODEL_FORMAT",
    "load_feature_extractor",
    "load_label_counts",
    "load_model",
    "load_text_featurizer",
    "read_model_json",
    "save_model",
]

LABEL_COUNTS = "label_counts.safetensors"
TEXT_DIR = "text"

MODEL_FORMAT = "labelsphere.Model"
_FORMAT_VERSION = 1


def save_model(
    directory: Path,
    model: Classifier,
    config: TrainConfig,
    vocabulary: LabelVocabulary,
    in_features: int | None,
    extra: dict[str, Any] | None = None,
    feature_extractor: nn.Module | None = None,
    label_counts: tuple[np.ndarray, int] | None = None,
    text_featurizer: Any = None,
) -> None:
    """Write a self-contained model directory: config, weights, label embedding, vocabulary.

    Files: ``model.json`` (format, config, shapes), ``model.safetensors`` (every weight,
    the fixed label embedding included as ``head.embeddings``), ``vocabulary.json``, and for a
    model trained on frozen image features, ``feature_extractor.safetensors`` plus its name and
    preprocessing in ``model.json``, so ``predict`` can go from image files to labels.
    ``label_counts`` (the training labels' counts (L,) and the number of training samples)
    goes to ``label_counts.safetensors``, so PSP@k needs no training data later. The
    directory is built beside the target and swapped in, so a reader never sees half of it.
    """
    from safetensors.torch import save_file

    extra = dict(extra or {})
    if feature_extractor is not None:
        extra["feature_extractor"] = {
            "name": feature_extractor.name,
            "weights_id": feature_extractor.weights_id,
            "num_features": feature_extractor.num_features,
            "data_config": dict(feature_extractor.data_config),
        }

    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        str(tmp / "model.safetensors"),
    )
    vocabulary.save(tmp / "vocabulary.json")
    if text_featurizer is not None:
        text_featurizer.save(tmp / TEXT_DIR)
        extra["text_featurizer"] = {"path": TEXT_DIR, "kind": text_featurizer.kind}
    if label_counts is not None:
        counts, n_samples = label_counts
        save_arrays(
            tmp / LABEL_COUNTS,
            {"counts": np.asarray(counts, dtype=np.int64)},
            {"n_samples": str(int(n_samples))},
        )
    if feature_extractor is not None:
        save_file(
            {
                k: v.detach().cpu().contiguous()
                for k, v in feature_extractor.model.state_dict().items()
            },
            str(tmp / "feature_extractor.safetensors"),
        )
    image = image_backbone(model)
    if image is not None:
        extra["image_backbone"] = {"name": image.name, "data_config": dict(image.data_config)}
    write_json(
        tmp / "model.json",
        {
            "format": MODEL_FORMAT,
            "format_version": _FORMAT_VERSION,
            "config": config.to_json(),
            "in_features": in_features,
            "n_labels": len(vocabulary),
            "embedding_dim": getattr(model.head, "dim", None),
            **extra,
        },
    )
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)


def load_model(
    directory: Path, device: str | torch.device = "cpu"
) -> tuple[Classifier, dict[str, Any], LabelVocabulary]:
    """Load a model directory written by ``save_model``: (model, metadata, vocabulary)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_model_json(directory)
    config = TrainConfig.from_json(meta["config"], source=str(directory / "model.json"))
    vocab = LabelVocabulary.load(directory / "vocabulary.json")
    try:
        weights = load_file(str(directory / "model.safetensors"))
    except Exception as e:
        raise FormatError(f"{directory / 'model.safetensors'}: unreadable ({e})") from None
    emb = weights.get("head.embeddings")
    in_features = meta.get("in_features")
    model = build_classifier(
        config,
        None if in_features is None else int(in_features),
        len(vocab),
        None if emb is None else emb.numpy(),
        image_weights=None,  # a fine-tuned backbone's weights are in model.safetensors
    )
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise FormatError(
            f"{directory / 'model.safetensors'}: does not match model.json ({e})"
        ) from None
    model.to(resolve_device(device)).eval()
    return model, meta, vocab


def read_model_json(directory: Path) -> dict[str, Any]:
    """``model.json`` of a model directory, checked: its format, version and ``config``."""
    path = Path(directory) / "model.json"
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise FormatError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    check_format(meta, path, MODEL_FORMAT, _FORMAT_VERSION)
    if not isinstance(meta.get("config"), dict):
        raise FormatError(f"{path}: no 'config' object")
    return meta


def load_label_counts(directory: Path) -> tuple[np.ndarray, int] | None:
    """The training labels' counts (L,) and sample count saved with a model, else ``None``."""
    path = Path(directory) / LABEL_COUNTS
    if not path.is_file():
        return None  # a model saved before the counts were kept
    from safetensors import safe_open

    arrays = load_arrays(path)
    with safe_open(str(path), "np") as f:
        n = (f.metadata() or {}).get("n_samples")
    if "counts" not in arrays or n is None or not str(n).isdigit():
        raise FormatError(f"{path}: expected 'counts' and the n_samples metadata")
    return arrays["counts"], int(n)


def load_text_featurizer(directory: Path, meta: dict[str, Any] | None = None) -> Any:
    """The ``TextFeaturizer`` saved with a model trained on text, else ``None``."""
    directory = Path(directory)
    meta = read_model_json(directory) if meta is None else meta
    if "text_featurizer" not in meta:
        return None
    from labelsphere.text import TextFeaturizer

    return TextFeaturizer.load(directory / TEXT_DIR)


def load_feature_extractor(directory: Path, meta: dict[str, Any] | None = None) -> nn.Module | None:
    """The frozen image backbone saved with a model trained on image features, else ``None``."""
    from labelsphere.images import create_backbone

    directory = Path(directory)
    meta = read_model_json(directory) if meta is None else meta
    info = meta.get("feature_extractor")
    if info is None:
        return None
    return create_backbone(
        info["name"], directory / "feature_extractor.safetensors", data_config=info["data_config"]
    )

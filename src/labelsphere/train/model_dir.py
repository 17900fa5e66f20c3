"""The model directory: a self-contained trained model (config, weights, vocabulary).

A model directory is validated whole when it is loaded (:func:`read_model_json`,
:func:`load_model`), every problem a ``FormatError`` naming the file and field:

* ``model.json``: a JSON object of format ``labelsphere.Model`` and a supported
  ``format_version``, with a ``config`` object, ``n_labels`` a positive integer,
  ``in_features`` and ``embedding_dim`` positive integers or null, and ``checksums`` (when
  present) a map of relative file paths to sha256 digests;
* ``vocabulary.json`` has exactly ``n_labels`` names (a vocabulary one name short would
  shift every predicted name);
* the weights: ``head.embeddings`` (L, d) agrees with ``n_labels`` and ``embedding_dim``, and
  every tensor fits the model the config builds (``load_state_dict``, strict);
* checksums: :func:`save_model` writes ``checksums`` into ``model.json``, the sha256
  (:func:`~labelsphere.artifacts.file_sha256`) of every file of the directory, plus, under
  the key ``"model.json"``, that of ``model.json``'s own content without ``checksums``
  (canonical JSON: sorted keys, no spaces). :func:`load_model` verifies them all, so a
  truncated, swapped or edited file is refused by name. Models saved before checksums
  existed have none and are accepted; files added to the directory after saving (e.g.
  ``thresholds.safetensors``) are covered only once :func:`update_checksums` is called.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labelsphere.artifacts import (
    FormatError,
    _jsonable,
    check_format,
    file_sha256,
    fsync_dir,
    load_arrays,
    read_json,
    save_arrays,
    save_tensors,
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
    "load_vocabulary",
    "read_model_json",
    "save_model",
    "update_checksums",
    "verify_checksums",
]

LABEL_COUNTS = "label_counts.safetensors"
TEXT_DIR = "text"

MODEL_FORMAT = "labelsphere.Model"
_FORMAT_VERSION = 1
CHECKSUMS = "checksums"
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
    goes to ``label_counts.safetensors``, so PSP@k needs no training data later.
    ``model.json`` ends with ``checksums``: the sha256 of every other file and of its own
    content (module docstring), verified by :func:`load_model`. The directory is built
    beside the target, fsynced and swapped in, so a reader never sees half of it.
    """
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
    try:
        save_tensors(
            tmp / "model.safetensors",
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
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
            save_tensors(
                tmp / "feature_extractor.safetensors",
                {
                    k: v.detach().cpu().contiguous()
                    for k, v in feature_extractor.model.state_dict().items()
                },
            )
        image = image_backbone(model)
        if image is not None:
            extra["image_backbone"] = {"name": image.name, "data_config": dict(image.data_config)}
        meta = {
            "format": MODEL_FORMAT,
            "format_version": _FORMAT_VERSION,
            "config": config.to_json(),
            "in_features": in_features,
            "n_labels": len(vocabulary),
            "embedding_dim": getattr(model.head, "dim", None),
            **extra,
        }
        # Round-trip through JSON first, so the checksum is of what a reader will parse.
        meta = json.loads(json.dumps(meta, default=_jsonable))  # numpy scalars, paths
        meta[CHECKSUMS] = _checksums(tmp, meta)
        write_json(tmp / "model.json", meta)
        _fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # disk full...: the saved model stays as it was
        raise
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)
    fsync_dir(directory.parent)


def _meta_digest(meta: dict[str, Any]) -> str:
    """sha256 of ``model.json``'s content without its checksums (canonical JSON)."""
    body = {k: v for k, v in meta.items() if k != CHECKSUMS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_files(directory: Path) -> list[str]:
    """Every regular file of a model directory but its model.json, as sorted relative paths."""
    out = []
    for p in directory.rglob("*"):
        rel = p.relative_to(directory).as_posix()
        if rel != "model.json" and p.is_file() and not p.is_symlink():
            out.append(rel)
    return sorted(out)


def _checksums(directory: Path, meta: dict[str, Any]) -> dict[str, str]:
    out = {"model.json": _meta_digest(meta)}
    for rel in _model_files(directory):
        out[rel] = file_sha256(directory / rel)
    return out


def _fsync_tree(directory: Path) -> None:
    for p in sorted(directory.rglob("*"), reverse=True):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        elif p.is_dir():
            fsync_dir(p)
    fsync_dir(directory)


def update_checksums(directory: Path) -> None:
    """Recompute the checksums in ``model.json`` over the directory's current files (call it
    after adding a file to a saved model, e.g. ``thresholds.safetensors``)."""
    directory = Path(directory)
    meta = read_model_json(directory)
    meta[CHECKSUMS] = _checksums(directory, meta)
    write_json(directory / "model.json", meta)


def verify_checksums(directory: Path, meta: dict[str, Any]) -> None:
    """Check every file listed in ``meta['checksums']`` (none listed: a model saved before
    checksums, accepted). Raises ``FormatError`` naming the first file that differs."""
    sums = meta.get(CHECKSUMS)
    if sums is None:
        return
    directory = Path(directory)
    for rel, digest in sums.items():
        if rel == "model.json":
            if _meta_digest(meta) != digest:
                raise FormatError(
                    f"{directory / 'model.json'}: its content does not match its checksum "
                    "(edited since the model was saved)"
                )
            continue
        path = directory / rel
        try:
            found = file_sha256(path)
        except OSError as e:
            raise FormatError(
                f"{path}: listed in model.json checksums but unreadable ({e.strerror or e})"
            ) from None
        if found != digest:
            raise FormatError(
                f"{path}: sha256 does not match the checksum in model.json (the file is corrupt "
                "or changed since the model was saved)"
            )


def load_model(
    directory: Path, device: str | torch.device = "cpu"
) -> tuple[Classifier, dict[str, Any], LabelVocabulary]:
    """Load a model directory written by ``save_model``: (model, metadata, vocabulary).

    The directory is validated whole first (module docstring); any problem is a
    ``FormatError`` naming the file.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_model_json(directory)
    meta_path = directory / "model.json"
    try:
        config = TrainConfig.from_json(meta["config"], source=str(meta_path))
    except (TypeError, ValueError) as e:  # a bad value, or the wrong JSON type ("lr": "abc")
        raise _naming(meta_path, "config", e) from None
    vocab = load_vocabulary(directory, meta)
    verify_checksums(directory, meta)
    weights_path = directory / "model.safetensors"
    try:
        weights = load_file(str(weights_path))
    except Exception as e:
        raise FormatError(f"{weights_path}: unreadable ({e})") from None
    emb = weights.get("head.embeddings")
    if emb is not None:
        dim = meta.get("embedding_dim")
        if emb.ndim != 2 or emb.shape[0] != len(vocab) or (dim is not None and emb.shape[1] != dim):
            raise FormatError(
                f"{weights_path}: head.embeddings has shape {tuple(emb.shape)}, model.json says "
                f"n_labels={meta['n_labels']} and embedding_dim={dim}"
            )
    in_features = meta.get("in_features")
    try:
        model = build_classifier(
            config,
            in_features,
            len(vocab),
            None if emb is None else emb.numpy(),
            image_weights=None,  # a fine-tuned backbone's weights are in model.safetensors
        )
    except (TypeError, ValueError) as e:  # e.g. "in_features is required for a model on features"
        raise _naming(meta_path, "model", e) from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise FormatError(f"{weights_path}: does not match model.json ({e})") from None
    model.to(resolve_device(device)).eval()
    return model, meta, vocab


def _naming(path: Path, what: str, e: Exception) -> FormatError:
    """``e`` as a FormatError whose message names ``path`` (once)."""
    message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    if str(path) in message:
        return e if isinstance(e, FormatError) else FormatError(message)
    return FormatError(f"{path}: invalid {what} ({message})")


def load_vocabulary(directory: Path, meta: dict[str, Any] | None = None) -> LabelVocabulary:
    """``vocabulary.json`` of a model directory, checked to hold ``n_labels`` names."""
    directory = Path(directory)
    meta = read_model_json(directory) if meta is None else meta
    path = directory / "vocabulary.json"
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    try:
        vocab = LabelVocabulary.load(path)
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except ValueError as e:  # e.g. a duplicate name: say which file
        raise _naming(path, "vocabulary", e) from None
    if len(vocab) != meta["n_labels"]:
        raise FormatError(
            f"{path}: holds {len(vocab)} label names but model.json says n_labels="
            f"{meta['n_labels']} (a vocabulary that does not match the model would shift "
            "every predicted name)"
        )
    return vocab


def _positive_int(meta: dict[str, Any], key: str, path: Path, optional: bool) -> None:
    value = meta.get(key)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        what = "a positive integer" + (" or null" if optional else "")
        raise FormatError(f"{path}: {key!r} should be {what}, got {value!r:.60}")


def read_model_json(directory: Path) -> dict[str, Any]:
    """``model.json`` of a model directory, checked: format, version, ``config``,
    ``n_labels``, ``in_features``, ``embedding_dim`` and the shape of ``checksums``."""
    path = Path(directory) / "model.json"
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise FormatError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    check_format(meta, path, MODEL_FORMAT, _FORMAT_VERSION)
    if not isinstance(meta.get("config"), dict):
        raise FormatError(f"{path}: no 'config' object")
    _positive_int(meta, "n_labels", path, optional=False)
    _positive_int(meta, "in_features", path, optional=True)
    _positive_int(meta, "embedding_dim", path, optional=True)
    sums = meta.get(CHECKSUMS)
    if sums is not None:
        ok = isinstance(sums, dict) and all(
            isinstance(k, str)
            and isinstance(v, str)
            and _SHA256.fullmatch(v)
            and not k.startswith(("/", "\\"))
            and ".." not in k.replace("\\", "/").split("/")
            for k, v in sums.items()
        )
        if not ok:
            raise FormatError(
                f"{path}: 'checksums' should map relative file paths to sha256 hex digests"
            )
    for key in ("feature_extractor", "image_backbone", "text_featurizer"):
        if key in meta and not isinstance(meta[key], dict):
            raise FormatError(f"{path}: {key!r} should be an object, got {meta[key]!r:.60}")
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
    n_labels = read_model_json(directory)["n_labels"]
    if arrays["counts"].shape != (n_labels,):
        raise FormatError(
            f"{path}: 'counts' has shape {arrays['counts'].shape}, expected ({n_labels},) "
            "(n_labels in model.json)"
        )
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
    if not isinstance(info.get("name"), str) or not isinstance(info.get("data_config"), dict):
        raise FormatError(
            f"{directory / 'model.json'}: 'feature_extractor' should have a 'name' string and a "
            "'data_config' object"
        )
    weights = directory / "feature_extractor.safetensors"
    try:
        backbone = create_backbone(info["name"], weights, data_config=info["data_config"])
    except (ValueError, OSError, KeyError) as e:  # unknown name, missing or unfitting weights
        message = str(e)
        if str(weights) in message or str(directory) in message:
            raise
        raise _naming(directory / "model.json", "feature_extractor", e) from None
    # The saved file fingerprints differently from the file training loaded the same weights
    # from, so the loaded backbone would miss every feature training cached. When the file is
    # byte for byte the one saved with this model.json (its checksum), its weights are those
    # of the recorded weights_id, and the backbone takes that id to share the cache.
    saved = (meta.get(CHECKSUMS) or {}).get(weights.name)
    if isinstance(info.get("weights_id"), str) and saved == backbone.weights_id:
        backbone.weights_id = info["weights_id"]
    return backbone

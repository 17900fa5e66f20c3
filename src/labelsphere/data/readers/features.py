"""Features in a ``.npy`` / ``.npz`` file plus a text file with one line of labels per sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset, encode_label_lists
from labelsphere.data.text import iter_lines, split_labels
from labelsphere.labels import LabelVocabulary, UnknownPolicy

__all__ = ["read_features"]


def _read_label_lines(path: Path, sep: str = ",") -> list[list[str]]:
    """One sample per line, label names separated by ``sep``; an empty line is no labels."""
    return [split_labels(line, sep) for _, line in iter_lines(path)]


def read_features(
    features_path: str | Path,
    labels_path: str | Path,
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    name: str | None = None,
) -> MultiLabelDataset:
    """Read features from ``.npy`` (dense) or ``.npz`` (``scipy.sparse.save_npz``) and labels
    from a text file with one sample per line, label names separated by commas.

    Nothing is unpickled (``allow_pickle=False``). Without ``vocabulary`` one is built from the
    labels (``LabelVocabulary.from_lists``, most frequent first); with one, labels are encoded
    into it (``unknown`` as in ``LabelVocabulary.encode``).
    """
    features_path, labels_path = Path(features_path), Path(labels_path)
    suffix = features_path.suffix.lower()
    try:
        if suffix == ".npy":
            X: np.ndarray | sp.csr_matrix = np.load(features_path, allow_pickle=False)
            if X.ndim != 2:
                raise DataFormatError(f"expected a 2-D array, got shape {X.shape}", features_path)
            if not np.issubdtype(X.dtype, np.number):
                raise DataFormatError(f"expected a numeric array, got {X.dtype}", features_path)
            X = X.astype(np.float32, copy=False)
        elif suffix == ".npz":
            X = sp.load_npz(features_path).tocsr().astype(np.float32)
        else:
            raise ValueError(f"{features_path}: features must be a .npy or .npz file")
    except DataFormatError:
        raise
    except (OSError, ValueError, KeyError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        kind = "scipy.sparse.save_npz" if suffix == ".npz" else "numpy.save"
        raise DataFormatError(f"not a readable {kind} file ({e})", features_path) from None
    label_lists = _read_label_lines(labels_path)
    if len(label_lists) != X.shape[0]:
        raise DataFormatError(
            f"has {len(label_lists)} label lines but {features_path} has {X.shape[0]} feature "
            "rows; they must agree",
            labels_path,
            len(label_lists),
        )
    Y, vocab = encode_label_lists(label_lists, vocabulary, unknown)
    return MultiLabelDataset(
        X=X,
        Y=Y,
        vocabulary=vocab,
        name=name or features_path.stem,
        info={"features": str(features_path), "labels": str(labels_path)},
    )

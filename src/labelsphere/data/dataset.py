"""The dataset container every reader returns, its format error, and where the data lives.

:class:`MultiLabelDataset` holds inputs ``X``, multi-hot labels ``Y`` (CSR int8) and the
:class:`~labelsphere.labels.LabelVocabulary` naming ``Y``'s columns. :class:`DataFormatError` is
what a reader raises for a malformed file. :func:`get_data_dir` finds the folder holding the
shared datasets. :func:`csr_from_coo` and :func:`encode_label_lists` build ``Y`` for the readers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelsphere.labels import LabelVocabulary, UnknownPolicy, check_multihot

__all__ = [
    "DATA_ENV",
    "DEFAULT_DATA_DIR",
    "DataFormatError",
    "Features",
    "MultiLabelDataset",
    "csr_from_coo",
    "encode_label_lists",
    "get_data_dir",
]

DATA_ENV = "LABELSPHERE_DATA"
DEFAULT_DATA_DIR = "~/labelsphere_data"

Features = np.ndarray | sp.csr_matrix | list[str] | None


# ====================================================================== errors and data dir
class DataFormatError(ValueError):
    """A data file does not follow its format.

    The message names the file, the (1-based, physical) line number when there is one, and
    what was expected there. ``path`` and ``line`` are also available as attributes.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        if path is not None:
            where = f"{path}, line {line}" if line is not None else f"{path}"
            message = f"{where}: {message}"
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.line = line


def get_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the directory holding the datasets.

    The explicit ``data_dir`` argument wins, then the ``LABELSPHERE_DATA`` environment variable,
    then ``~/labelsphere_data`` (like scikit-learn's ``data_home``). Raises
    ``FileNotFoundError`` explaining how to point labelsphere at the data when the chosen
    directory does not exist. Nothing is created or downloaded.
    """
    if data_dir is not None:
        source = "the data_dir argument"
        path = Path(data_dir)
    elif os.environ.get(DATA_ENV):
        source = f"${DATA_ENV}"
        path = Path(os.environ[DATA_ENV])
    else:
        source = "the default location"
        path = Path(DEFAULT_DATA_DIR)
    path = path.expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data directory {path} (from {source}) does not exist; pass data_dir=..., set the "
            f"{DATA_ENV} environment variable, or put the datasets in {DEFAULT_DATA_DIR}"
        )
    return path


# ====================================================================== the dataset container
@dataclass(eq=False)
class MultiLabelDataset:
    """A multi-label dataset: inputs, multi-hot labels and the vocabulary naming the labels.

    Attributes
    ----------
    X : ndarray (n, D) float32, CSR (n, D) float32, list of str, or None
        Features (dense or sparse), item inputs such as absolute image paths, or ``None`` for
        label-only data.
    Y : CSR matrix (n, L) int8
        Multi-hot labels; column ``j`` is ``vocabulary.names[j]``.
    vocabulary : LabelVocabulary
    name : str
        A short name, e.g. ``"bibtex/train"``.
    ids : list of str or None
        Sample identifiers when the source has them (not necessarily unique).
    info : dict
        Anything else worth knowing about how the data was read (source paths, rows dropped...).
    groups : list of str or None
        Each sample's group when the source has them: samples that are variants of one item
        (iconify-icons: one icon name within one set family) share a group.
        :func:`~labelsphere.data.train_val_test` keeps a group on one side of the
        validation split, as the dataset's own test split does.
    """

    X: Features
    Y: sp.csr_matrix
    vocabulary: LabelVocabulary
    name: str
    ids: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    groups: list[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.vocabulary, LabelVocabulary):
            raise TypeError(
                f"vocabulary must be a LabelVocabulary, got {type(self.vocabulary).__name__}"
            )
        self.Y = check_multihot(self.Y, n_labels=len(self.vocabulary))
        n = self.Y.shape[0]
        X = self.X
        if X is None:
            pass
        elif sp.issparse(X):
            X = sp.csr_matrix(X)
            if X.dtype != np.float32:
                X = X.astype(np.float32)
            self.X = X
            _check_rows("X", X.shape[0], n)
        elif isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype == np.uint8:
            _check_rows("X", X.shape[0], n)  # (n, H, W) grayscale renders, kept as uint8
        elif isinstance(X, np.ndarray):
            if X.ndim != 2:
                raise ValueError(
                    f"X must be 2-D (n_samples, n_features) or uint8 (n, H, W) renders, "
                    f"got shape {X.shape} {X.dtype}"
                )
            if X.dtype != np.float32:
                self.X = X.astype(np.float32)
            _check_rows("X", X.shape[0], n)
        elif isinstance(X, list):
            bad = next((i for i, x in enumerate(X) if not isinstance(x, str)), None)
            if bad is not None:
                raise TypeError(f"X[{bad}] is {type(X[bad]).__name__}; list inputs must be str")
            _check_rows("X", len(X), n)
        else:
            raise TypeError(
                "X must be a 2-D ndarray, a scipy sparse matrix, a list of str or None, "
                f"got {type(X).__name__}"
            )
        if self.ids is not None:
            self.ids = [str(i) for i in self.ids]
            _check_rows("ids", len(self.ids), n)
        if self.groups is not None:
            self.groups = [str(g) for g in self.groups]
            _check_rows("groups", len(self.groups), n)

    def __len__(self) -> int:
        return self.Y.shape[0]

    def __repr__(self) -> str:
        if self.X is None:
            x = "None"
        elif isinstance(self.X, list):
            x = f"list[str] of {len(self.X)}"
        else:
            kind = "CSR" if sp.issparse(self.X) else "ndarray"
            x = f"{kind} {self.X.shape[0]}x{self.X.shape[1]}"
        return (
            f"MultiLabelDataset(name={self.name!r}, n_samples={len(self)}, X={x}, "
            f"n_labels={self.n_labels}, cardinality={self.cardinality:.2f})"
        )

    @property
    def n_labels(self) -> int:
        return len(self.vocabulary)

    @property
    def n_features(self) -> int | None:
        """Number of feature columns, or ``None`` when X is not a feature matrix."""
        if self.X is None or isinstance(self.X, list):
            return None
        return int(self.X.shape[1])

    @property
    def cardinality(self) -> float:
        """Mean number of labels per sample."""
        return float(self.Y.nnz / len(self)) if len(self) else 0.0

    def labels(self) -> list[list[str]]:
        """Each sample's label names, in vocabulary order."""
        return self.vocabulary.decode(self.Y)

    def check_finite(self) -> MultiLabelDataset:
        """Raise ``ValueError`` naming the first sample whose features are NaN or infinite.

        Features from a file (an ARFF ``?``, a ``nan`` in a .npy) would otherwise train to a NaN
        loss or score NaN; labelsphere refuses them before any work. Returns ``self``.
        """
        X = self.X
        if X is None or isinstance(X, list) or X.dtype == np.uint8:
            return self
        if sp.issparse(X):
            bad = np.flatnonzero(~np.isfinite(X.data))
            if len(bad):
                row = int(np.searchsorted(X.indptr, bad[0], side="right") - 1)
                raise ValueError(f"{self.name}: sample {row} has a NaN or infinite feature")
            return self
        finite = np.isfinite(X)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise ValueError(f"{self.name}: sample {row} has a NaN or infinite feature")
        return self

    def subset(self, indices: Sequence[int] | np.ndarray) -> MultiLabelDataset:
        """A new dataset with the given rows (integer indices or a boolean mask), in that order.

        The vocabulary object is shared with this dataset; ``info`` is copied; ``ids`` and
        ``groups`` follow their rows.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.int64)
        elif not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers or a boolean mask, got dtype {idx.dtype}")
        idx = idx.reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset index out of range for a dataset of {len(self)} samples")
        X = self.X
        if isinstance(X, list):
            X = [X[i] for i in idx]
        elif X is not None:
            X = X[idx]
        ids = None if self.ids is None else [self.ids[i] for i in idx]
        groups = None if self.groups is None else [self.groups[i] for i in idx]
        return MultiLabelDataset(
            X=X,
            Y=self.Y[idx],
            vocabulary=self.vocabulary,
            name=self.name,
            ids=ids,
            info=dict(self.info),
            groups=groups,
        )


def _check_rows(what: str, got: int, n: int) -> None:
    if got != n:
        raise ValueError(f"{what} has {got} rows but Y has {n}; they must agree")


# ====================================================================== building Y
def csr_from_coo(
    rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A binary CSR int8 matrix with ones at (rows, cols); duplicates count once."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    Y = sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=shape)
    Y.sum_duplicates()
    Y.data[:] = 1
    return Y


def encode_label_lists(
    label_lists: list[list[str]],
    vocabulary: LabelVocabulary | None,
    unknown: UnknownPolicy,
    min_count: int = 1,
) -> tuple[sp.csr_matrix, LabelVocabulary]:
    """Encode label names into ``vocabulary``, or into one built from them (most frequent first).

    A vocabulary built with ``min_count > 1`` leaves out rare labels on purpose, so those are
    dropped rather than reported as unknown.
    """
    if vocabulary is None:
        vocabulary = LabelVocabulary.from_lists(label_lists, min_count=min_count)
        if min_count > 1:
            unknown = "ignore"
    return vocabulary.encode(label_lists, unknown=unknown), vocabulary

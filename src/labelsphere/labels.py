"""Label vocabulary: label names <-> column indices, and lists of names <-> CSR multi-hot rows.

This is the first step of the data flow (labels -> co-occurrence -> embedding -> training ->
decoding): everything downstream works on integer label indices and sparse multi-hot matrices.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

from labelsphere.artifacts import atomic_write_text

UnknownPolicy = Literal["error", "ignore"]

__all__ = [
    "LabelVocabulary",
    "UnknownLabelError",
    "UnknownPolicy",
    "as_multihot",
    "check_multihot",
]


class UnknownLabelError(KeyError):
    """A label name that is not in the vocabulary was encoded with ``unknown="error"``."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else "unknown label"


class LabelVocabulary:
    """An ordered set of label names, mapping each to a column index.

    Parameters
    ----------
    names : sequence of str
        The label names, in column order. Must be unique and non-empty strings.

    Attributes
    ----------
    names : list of str
        Label names; ``names[i]`` is the label of column ``i``.
    counts : ndarray of shape (n_labels,) or None
        How often each label occurred in the data the vocabulary was built from
        (``from_lists`` sets it; ``None`` when built from names alone).
    n_unknown_ : int
        Number of unknown names dropped by ``encode(..., unknown="ignore")`` so far.

    Examples
    --------
    >>> vocab = LabelVocabulary.from_lists([["cat", "dog"], ["dog"], ["bird"]], min_count=1)
    >>> vocab.names
    ['dog', 'cat', 'bird']
    >>> Y = vocab.encode([["cat"], ["dog", "bird"]])
    >>> Y.toarray()
    array([[0, 1, 0],
           [1, 0, 1]], dtype=int8)
    >>> vocab.decode(Y)
    [['cat'], ['dog', 'bird']]
    """

    def __init__(self, names: Sequence[str], counts: Sequence[int] | None = None) -> None:
        names = list(names)
        for i, name in enumerate(names):
            if not isinstance(name, str) or name == "":
                raise ValueError(
                    f"label name at position {i} must be a non-empty string, got {name!r}"
                )
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in index:
                raise ValueError(
                    f"duplicate label name {name!r} at positions {index[name]} and {i}"
                )
            index[name] = i
        self.names = names
        self._index = index
        if counts is not None:
            counts_arr = np.asarray(counts, dtype=np.int64)
            if counts_arr.shape != (len(names),):
                raise ValueError(
                    f"counts has shape {counts_arr.shape}, expected ({len(names)},) to match names"
                )
            self.counts: np.ndarray | None = counts_arr
        else:
            self.counts = None
        self.n_unknown_ = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_lists(
        cls, label_lists: Iterable[Iterable[str]], min_count: int = 1
    ) -> LabelVocabulary:
        """Build a vocabulary from lists of label names.

        Labels are ordered by decreasing count, ties broken by first appearance, so index 0 is
        the most frequent label. Labels seen fewer than ``min_count`` times are left out.
        Repeated names within one sample count once.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counter: Counter[str] = Counter()
        for row in label_lists:
            if isinstance(row, str):
                raise TypeError(
                    "each sample's labels must be a list of names, got a bare string "
                    f"{row!r} (wrap it in a list)"
                )
            counter.update(list(dict.fromkeys(row)))  # once per sample, first-seen order
        # Counter.most_common keeps insertion order among equal counts.
        kept = [(name, c) for name, c in counter.most_common() if c >= min_count]
        if not kept:
            raise ValueError(f"no label occurs at least min_count={min_count} times")
        return cls([n for n, _ in kept], [c for _, c in kept])

    # ------------------------------------------------------------------ mapping
    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelVocabulary) and self.names == other.names

    __hash__ = None  # type: ignore[assignment]  # mutable counters; not hashable

    def __repr__(self) -> str:
        head = ", ".join(repr(n) for n in self.names[:5])
        more = ", ..." if len(self.names) > 5 else ""
        return f"LabelVocabulary([{head}{more}], n_labels={len(self)})"

    def index(self, name: str) -> int:
        """Column index of ``name``; raises ``UnknownLabelError`` if absent."""
        try:
            return self._index[name]
        except KeyError:
            raise UnknownLabelError(
                f"unknown label {name!r} (vocabulary has {len(self)} labels)"
            ) from None

    def encode(
        self, label_lists: Iterable[Iterable[str]], unknown: UnknownPolicy = "error"
    ) -> sp.csr_matrix:
        """Turn lists of label names into a CSR multi-hot matrix of shape (n_samples, n_labels), int8.

        ``unknown="error"`` (default) raises ``UnknownLabelError`` naming the sample and label;
        ``unknown="ignore"`` drops unknown names and adds them to ``n_unknown_``.
        Repeated names within a sample give a single 1.
        """
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        indptr = [0]
        indices: list[int] = []
        n_unknown = 0
        for i, row in enumerate(label_lists):
            if isinstance(row, str):
                raise TypeError(
                    f"sample {i}: labels must be a list of names, got the string {row!r}"
                )
            cols = set()
            for name in row:
                j = self._index.get(name)
                if j is None:
                    if unknown == "error":
                        raise UnknownLabelError(
                            f"sample {i}: unknown label {name!r} "
                            f"(vocabulary has {len(self)} labels; pass unknown='ignore' to drop it)"
                        )
                    n_unknown += 1
                    continue
                cols.add(j)
            indices.extend(sorted(cols))
            indptr.append(len(indices))
        self.n_unknown_ += n_unknown
        n = len(indptr) - 1
        data = np.ones(len(indices), dtype=np.int8)
        return sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
            shape=(n, len(self)),
        )

    def decode(self, Y: sp.spmatrix | np.ndarray) -> list[list[str]]:
        """Turn a multi-hot matrix of shape (n_samples, n_labels) back into lists of names."""
        Y = check_multihot(Y, n_labels=len(self))
        return [
            [self.names[j] for j in Y.indices[Y.indptr[i] : Y.indptr[i + 1]]]
            for i in range(Y.shape[0])
        ]

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> dict:
        return {
            "names": self.names,
            "counts": None if self.counts is None else self.counts.tolist(),
        }

    @classmethod
    def from_json(cls, obj: dict, source: str = "vocabulary") -> LabelVocabulary:
        if not isinstance(obj, dict) or "names" not in obj:
            raise ValueError(f"{source}: expected an object with a 'names' list")
        return cls(obj["names"], obj.get("counts"))

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (atomically)."""
        atomic_write_text(Path(path), json.dumps(self.to_json(), ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> LabelVocabulary:
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
        return cls.from_json(obj, source=str(path))


def check_multihot(
    Y: sp.spmatrix | np.ndarray | Sequence[Sequence[int]],
    n_labels: int | None = None,
    name: str = "Y",
) -> sp.csr_matrix:
    """Validate a multi-hot label matrix and return it as canonical CSR int8 (sorted, no duplicates).

    Accepts a scipy sparse matrix, a dense 2-D array, or (when ``n_labels`` is given) lists of
    integer label indices. Raises ``ValueError`` naming the offending entry for negative,
    non-binary or out-of-range values and wrong shapes.
    """
    if sp.issparse(Y):
        Y = sp.csr_matrix(Y, copy=True)
        Y.sum_duplicates()
        Y.eliminate_zeros()
        values = Y.data
        if values.size and not np.all(values == 1):
            bad = np.flatnonzero(values != 1)[0]
            row = int(np.searchsorted(Y.indptr, bad, side="right") - 1)
            raise ValueError(
                f"{name} must be binary (0/1); row {row}, column {Y.indices[bad]} holds {values[bad].item()!r}"
            )
    elif isinstance(Y, np.ndarray):
        if Y.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_labels), got shape {Y.shape}")
        bad = np.argwhere((Y != 0) & (Y != 1))
        if len(bad):
            r, c = bad[0]
            raise ValueError(
                f"{name} must be binary (0/1); row {r}, column {c} holds {Y[r, c].item()!r}"
            )
        Y = sp.csr_matrix(Y.astype(np.int8))
    else:
        if n_labels is None:
            raise TypeError(
                f"{name}: lists of label indices need n_labels; pass a multi-hot matrix instead"
            )
        rows = list(Y)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        cols: list[int] = []
        for i, row in enumerate(rows):
            if isinstance(row, str):
                raise TypeError(f"{name}: sample {i} is a string {row!r}; expected label indices")
            s = sorted({int(j) for j in row})
            if s and (s[0] < 0 or s[-1] >= n_labels):
                j = s[0] if s[0] < 0 else s[-1]
                raise ValueError(f"{name}: sample {i} has label index {j} outside [0, {n_labels})")
            cols.extend(s)
            indptr[i + 1] = len(cols)
        Y = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.int8), np.asarray(cols, dtype=np.int64), indptr),
            shape=(len(rows), n_labels),
        )
    if n_labels is not None and Y.shape[1] != n_labels:
        raise ValueError(f"{name} has {Y.shape[1]} label columns, expected {n_labels}")
    Y = Y.astype(np.int8)
    Y.sort_indices()
    return Y


def as_multihot(
    labels: sp.spmatrix | np.ndarray | Sequence[Sequence[str]] | Sequence[Sequence[int]],
    n_labels: int | None = None,
    vocabulary: LabelVocabulary | None = None,
    name: str = "Y",
) -> sp.csr_matrix:
    """Multi-hot CSR (n, L) int8 from any of the label forms labelsphere accepts.

    A matrix (sparse or dense) or lists of label indices go through :func:`check_multihot`;
    lists of label names are encoded with ``vocabulary`` (a ``TypeError`` without one).

    Examples:
        >>> v = LabelVocabulary(["cat", "dog", "pet"])
        >>> as_multihot([["cat", "pet"], []], vocabulary=v).toarray().tolist()
        [[1, 0, 1], [0, 0, 0]]
    """
    if sp.issparse(labels) or isinstance(labels, np.ndarray):
        return check_multihot(labels, n_labels=n_labels, name=name)
    rows = [list(r) for r in labels]
    if any(isinstance(x, str) for r in rows for x in r):
        if vocabulary is None:
            raise TypeError(f"{name}: lists of label names need a vocabulary")
        return vocabulary.encode(rows)
    return check_multihot(rows, n_labels=n_labels, name=name)

"""Streaming, mergeable label co-occurrence counts: the statistics PMI is computed from.

Counts are exact integers (int64), so feeding the data in one batch, in many batches, or in
shards counted separately and merged gives identical results. Pairwise counts are stored as a
sparse upper triangle (diagonal included: ``c_ii`` is the label count), so memory grows with the
number of label pairs that actually co-occur, not with L².
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.artifacts import FormatError, check_format, load_arrays, save_arrays
from labelsphere.labels import LabelVocabulary, as_multihot

__all__ = ["CooccurrenceCounter"]

_FORMAT = "labelsphere.CooccurrenceCounter"
_FORMAT_VERSION = 1


class CooccurrenceCounter:
    """Counts samples, labels and label pairs from batches of multi-hot rows.

    Parameters
    ----------
    n_labels : int, optional
        Number of label columns L. Required unless ``vocabulary`` is given.
    vocabulary : LabelVocabulary, optional
        Lets ``update`` take lists of label names; unknown names raise (see
        ``LabelVocabulary.encode``).

    Attributes
    ----------
    n_samples_ : int
        Samples seen (including samples without labels).
    label_counts_ : ndarray of shape (L,), int64
        ``c_i``: samples carrying label i.
    n_pairs_ : int
        Stored pairs in the upper triangle (i <= j) with a non-zero count.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> c = CooccurrenceCounter(n_labels=3)
    >>> c.update(sp.csr_matrix([[1, 1, 0], [1, 0, 1]])).update([[0, 1]]).n_samples_
    3
    >>> c.pair_counts().toarray()
    array([[3, 2, 1],
           [2, 2, 0],
           [1, 0, 1]])
    """

    def __init__(self, n_labels: int | None = None, vocabulary: LabelVocabulary | None = None):
        if n_labels is None:
            if vocabulary is None:
                raise ValueError("give n_labels or a vocabulary")
            n_labels = len(vocabulary)
        elif vocabulary is not None and len(vocabulary) != n_labels:
            raise ValueError(f"n_labels={n_labels} but the vocabulary has {len(vocabulary)} labels")
        if int(n_labels) < 1:
            raise ValueError(f"n_labels must be >= 1, got {n_labels}")
        self.n_labels = int(n_labels)
        self.vocabulary = vocabulary
        self.n_samples_ = 0
        self.label_counts_ = np.zeros(self.n_labels, dtype=np.int64)
        self._pairs = sp.csr_matrix((self.n_labels, self.n_labels), dtype=np.int64)
        # Batch products wait here and are summed in one go once they hold as many entries as
        # the running total: each entry is then re-added O(log #batches) times, not once per batch.
        self._pending: list[sp.csr_matrix] = []
        self._pending_nnz = 0

    # ------------------------------------------------------------------ counting
    def update(
        self, batch: sp.spmatrix | np.ndarray | Sequence[Sequence[int]] | Iterable[Sequence[str]]
    ) -> CooccurrenceCounter:
        """Add a batch: a multi-hot matrix (n, L), lists of label indices, or lists of names.

        Returns ``self`` so calls chain.
        """
        Y = as_multihot(batch, self.n_labels, self.vocabulary, name="batch")  # type: ignore[arg-type]
        if Y.shape[0] == 0:
            return self
        # int8 products would overflow; int32 holds any batch below 2^31 samples and moves half
        # the bytes of int64 through the sparse product. The running total is int64.
        Y32 = Y.astype(np.int32)
        self.n_samples_ += Y.shape[0]
        self.label_counts_ += np.bincount(Y.indices, minlength=self.n_labels)
        prod = sp.triu(Y32.T @ Y32, format="csr").astype(np.int64)
        self._pending.append(prod)
        self._pending_nnz += prod.nnz
        if self._pending_nnz >= max(self._pairs.nnz, 1 << 20):
            self._fold()
        return self

    def merge(self, other: CooccurrenceCounter) -> CooccurrenceCounter:
        """Add another counter's counts into this one (same L, same vocabulary). Returns ``self``."""
        if not isinstance(other, CooccurrenceCounter):
            raise TypeError(f"can only merge a CooccurrenceCounter, got {type(other).__name__}")
        if other.n_labels != self.n_labels:
            raise ValueError(
                f"cannot merge counters over {other.n_labels} and {self.n_labels} labels"
            )
        if (
            self.vocabulary is not None
            and other.vocabulary is not None
            and self.vocabulary != other.vocabulary
        ):
            raise ValueError("cannot merge counters built on different vocabularies")
        self.n_samples_ += other.n_samples_
        self.label_counts_ += other.label_counts_
        self._pending.append(other.pair_counts(full=False))
        self._fold()
        return self

    def pair_counts(self, full: bool = True) -> sp.csr_matrix:
        """Pairwise counts ``c_ij`` as CSR int64 of shape (L, L), diagonal = ``c_i``.

        ``full=False`` returns the stored upper triangle (i <= j) only.
        """
        self._fold()
        upper = self._pairs
        if not full:
            return upper.copy()
        full_m = upper + sp.triu(upper, k=1, format="csr").T
        return sp.csr_matrix(full_m)

    @property
    def n_pairs_(self) -> int:
        self._fold()
        return int(self._pairs.nnz)

    def _fold(self) -> None:
        if self._pending:
            total = self._pairs
            for m in self._pending:
                total = total + m
            total = sp.csr_matrix(total)
            total.sum_duplicates()
            total.sort_indices()
            self._pairs = total
            self._pending = []
            self._pending_nnz = 0

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the counts to one safetensors file (atomically); vocabulary in its metadata."""
        import json

        upper = self.pair_counts(full=False)
        meta = {
            "format": _FORMAT,
            "format_version": str(_FORMAT_VERSION),
            "n_labels": str(self.n_labels),
            "n_samples": str(self.n_samples_),
            "vocabulary": json.dumps(self.vocabulary.to_json()) if self.vocabulary else "",
        }
        save_arrays(
            Path(path),
            {
                "label_counts": self.label_counts_,
                "pairs_indptr": upper.indptr.astype(np.int64),
                "pairs_indices": upper.indices.astype(np.int64),
                "pairs_data": upper.data.astype(np.int64),
            },
            metadata=meta,
        )

    @classmethod
    def load(cls, path: str | Path) -> CooccurrenceCounter:
        """Read counts written by ``save``; corrupt or foreign files raise ``FormatError``."""
        import json

        from safetensors import safe_open

        path = Path(path)
        arrays = load_arrays(path)
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
        try:
            version = int(meta.get("format_version", "-1"))
        except ValueError:
            version = -1
        check_format({**meta, "format_version": version}, path, _FORMAT, _FORMAT_VERSION)
        try:
            n_labels = int(meta["n_labels"])
            n_samples = int(meta["n_samples"])
            vocab = (
                LabelVocabulary.from_json(json.loads(meta["vocabulary"]), source=str(path))
                if meta.get("vocabulary")
                else None
            )
            upper = sp.csr_matrix(
                (arrays["pairs_data"], arrays["pairs_indices"], arrays["pairs_indptr"]),
                shape=(n_labels, n_labels),
            )
            upper.check_format(full_check=True)
            counts = arrays["label_counts"]
        except (KeyError, ValueError) as e:
            raise FormatError(f"{path}: inconsistent counter file ({e})") from None
        if counts.shape != (n_labels,) or not np.array_equal(upper.diagonal(), counts):
            raise FormatError(f"{path}: label counts do not match the pair-count diagonal")
        c = cls(n_labels=n_labels, vocabulary=vocab)
        c.n_samples_ = n_samples
        c.label_counts_ = counts.astype(np.int64)
        c._pairs = upper
        return c

    def __repr__(self) -> str:
        return (
            f"CooccurrenceCounter(n_labels={self.n_labels}, n_samples_={self.n_samples_}, "
            f"n_pairs_={self.n_pairs_})"
        )

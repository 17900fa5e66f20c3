"""Streaming, mergeable label co-occurrence counts: the statistics PMI is computed from.

Counts are exact integers (int64), so feeding the data in one batch, in many batches, or in
shards counted separately and merged gives identical results. Pairwise counts are stored as a
sparse upper triangle (diagonal included: ``c_ii`` is the label count), so memory grows with the
number of label pairs that actually co-occur, not with L².

Memory layout (issue 10): the triangle is one CSR matrix with int64 counts and int32 column
indices and row pointers (int64 only where L or the number of pairs reaches 2^31), 12 bytes per
co-occurring pair. A batch is counted label block by label block (rows of the triangle), each
block exact and final, so the full L x L product of a batch is never held: besides the batch
and the result, counting needs the batch's transpose (5 bytes per label occurrence), one int32
array of ones (4 bytes per occurrence) and one block's product (bounded, ~100 MB).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from labelsphere.artifacts import FormatError, check_format, load_arrays, save_arrays
from labelsphere.labels import LabelVocabulary, as_multihot

try:  # scipy's C++ kernels, called directly so that no index or data array is copied
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a scipy without the private module: public operators
    _sparsetools = None

__all__ = ["CooccurrenceCounter"]

_FORMAT = "labelsphere.CooccurrenceCounter"
_FORMAT_VERSION = 1
_INT32_MAX = np.iinfo(np.int32).max
# Multiply-adds of one label block of a batch's product: bounds the block's temporaries
# (about 13 bytes each: int32 indices and counts, the row of each entry, a mask) to ~100 MB.
_BLOCK_FLOPS = 1 << 23


def _index_dtype(*sizes: int) -> type:
    """int32 when every size (L, number of samples, number of entries) fits, else int64."""
    return np.int32 if max(sizes, default=0) <= _INT32_MAX else np.int64


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
        self,
        batch: sp.spmatrix | np.ndarray | Sequence[Sequence[int]] | Iterable[Sequence[str]],
        progress: bool = False,
    ) -> CooccurrenceCounter:
        """Add a batch: a multi-hot matrix (n, L), lists of label indices, or lists of names.

        ``progress=True`` shows a progress bar (samples, with rate and ETA) while the batch's
        pairs are counted; worth it for one large batch. Returns ``self`` so calls chain.
        """
        Y = _as_counting_matrix(batch, self.n_labels, self.vocabulary)
        if Y.shape[0] == 0:
            return self
        if Y.shape[0] > _INT32_MAX:  # int32 products: split batches beyond 2^31 samples
            for a in range(0, Y.shape[0], _INT32_MAX):
                self.update(Y[a : a + _INT32_MAX], progress=progress)
            return self
        prod = _upper_product(Y, self.n_labels, progress)
        self.n_samples_ += Y.shape[0]
        self.label_counts_ += np.bincount(Y.indices, minlength=self.n_labels)
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

    def _upper(self) -> sp.csr_matrix:
        """The stored upper triangle itself (no copy): callers must not modify it."""
        self._fold()
        return self._pairs

    def _fold(self) -> None:
        if len(self._pending) == 1 and self._pairs.nnz == 0:  # the first batch: no sum needed
            self._pairs = _compact(self._pending.pop())
            self._pending_nnz = 0
        if self._pending:
            total = self._pairs
            for m in self._pending:
                total = total + m
            total = sp.csr_matrix(total)
            total.sum_duplicates()
            total.sort_indices()
            self._pairs = _compact(total)
            self._pending = []
            self._pending_nnz = 0

    def _resized(self, n_labels: int) -> CooccurrenceCounter:
        """Grow L in place (new labels have no counts): for a vocabulary that grows."""
        if n_labels < self.n_labels:
            raise ValueError(f"cannot shrink a counter from {self.n_labels} to {n_labels} labels")
        if n_labels == self.n_labels:
            return self
        self._fold()
        extra = n_labels - self.n_labels
        upper = self._pairs
        idx = _index_dtype(n_labels, upper.nnz)
        indptr = np.concatenate([upper.indptr, np.full(extra, upper.indptr[-1])]).astype(idx)
        self._pairs = sp.csr_matrix(
            (upper.data, upper.indices.astype(idx, copy=False), indptr), shape=(n_labels, n_labels)
        )
        self.label_counts_ = np.concatenate([self.label_counts_, np.zeros(extra, np.int64)])
        self.n_labels = n_labels
        self.vocabulary = None
        return self

    def _take(self, keep: np.ndarray, vocabulary: LabelVocabulary | None) -> CooccurrenceCounter:
        """A counter over the labels ``keep`` (old indices, in their new order); exact.

        Dropping a label removes its row and column and nothing else, so the counts of the
        labels kept are those that counting with the smaller vocabulary would have given.
        """
        keep = np.asarray(keep, dtype=np.int64)
        upper = self._upper()
        new_of = np.full(self.n_labels, -1, dtype=np.int64)
        new_of[keep] = np.arange(keep.size)
        coo = upper.tocoo()
        r, c = new_of[coo.row], new_of[coo.col]
        ok = (r >= 0) & (c >= 0)
        r, c, data = r[ok], c[ok], coo.data[ok]
        del coo
        lo, hi = np.minimum(r, c), np.maximum(r, c)
        k = keep.size
        pairs = sp.csr_matrix((data, (lo, hi)), shape=(k, k))
        pairs.sum_duplicates()
        out = CooccurrenceCounter(n_labels=max(k, 1), vocabulary=vocabulary)
        out.n_samples_ = self.n_samples_
        out.label_counts_ = self.label_counts_[keep].copy()
        out._pairs = _compact(pairs)
        return out

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
            upper = _compact(upper)
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


# ---------------------------------------------------------------------------- counting kernels
def _as_counting_matrix(
    batch: object, n_labels: int, vocabulary: LabelVocabulary | None
) -> sp.csr_matrix:
    """The batch as canonical binary CSR; a matrix that already is one is used without a copy."""
    if (
        isinstance(batch, (sp.csr_matrix, sp.csr_array))
        and batch.ndim == 2
        and batch.shape[1] == n_labels
        and batch.has_canonical_format
        and (batch.nnz == 0 or bool(np.all(batch.data == 1)))
    ):
        return batch  # type: ignore[return-value]
    return as_multihot(batch, n_labels, vocabulary, name="batch")  # type: ignore[arg-type]


def _compact(m: sp.csr_matrix) -> sp.csr_matrix:
    """The counts as int64 with int32 indices and row pointers where they fit."""
    idx = _index_dtype(m.shape[0], m.nnz)
    if m.indices.dtype == idx and m.indptr.dtype == idx and m.data.dtype == np.int64:
        return m
    out = sp.csr_matrix(m.shape, dtype=np.int64)
    out.data = m.data.astype(np.int64, copy=False)
    out.indices = m.indices.astype(idx, copy=False)
    out.indptr = m.indptr.astype(idx, copy=False)
    return out


def _upper_product(Y: sp.csr_matrix, L: int, progress: bool = False) -> sp.csr_matrix:
    """``triu(Y^T Y)`` as CSR int64 (exact), computed block of labels by block of labels.

    Rows ``a..b`` of ``Y^T Y`` are ``Y^T[a:b] @ Y``; each block is computed by scipy's sparse
    product on int32 ones, cut to its upper part and kept, so only one block's full product is
    ever held. Blocks are sized by their multiply-adds (a label in s samples with k_1..k_s
    labels costs sum k), which bounds that product.
    """
    n = Y.shape[0]
    nnz = Y.nnz
    idx = _index_dtype(n, L, nnz)
    if _sparsetools is None:  # pragma: no cover
        Y32 = Y.astype(np.int32)
        return _compact(sp.triu(Y32.T @ Y32, format="csr").astype(np.int64))
    Yp = Y.indptr.astype(idx, copy=False)
    Yj = Y.indices.astype(idx, copy=False)
    # The transpose's structure: for each label, the samples that carry it (sorted).
    Tp = np.empty(L + 1, dtype=idx)
    Tj = np.empty(nnz, dtype=idx)
    Tx = np.empty(nnz, dtype=np.int8)
    _sparsetools.csr_tocsc(n, L, Yp, Yj, Y.data.astype(np.int8, copy=False), Tp, Tj, Tx)
    del Tx
    ones = np.ones(nnz, dtype=np.int32)
    # Multiply-adds of label i's row: the sum of the sizes of the samples that carry it.
    sizes = np.diff(Yp).astype(np.float64)
    flops = np.zeros(L, dtype=np.float64)
    step = max(1, (1 << 22) // max(1, int(sizes.mean()) if n else 1))
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        p0, p1 = int(Yp[r0]), int(Yp[r1])
        flops += np.bincount(
            Yj[p0:p1], weights=np.repeat(sizes[r0:r1], np.diff(Yp[r0 : r1 + 1])), minlength=L
        )
    del sizes
    cum = np.cumsum(flops)
    total = float(cum[-1]) if L else 0.0
    parts_p: list[np.ndarray] = []
    parts_j: list[np.ndarray] = []
    parts_x: list[np.ndarray] = []
    with tqdm(
        total=n, disable=not progress, desc="counting", unit="sample", unit_scale=True
    ) as bar:
        a = 0
        while a < L:
            # The next block: as many labels as fit in the budget, at least one.
            start = cum[a - 1] if a else 0.0
            b = int(np.searchsorted(cum, start + _BLOCK_FLOPS, side="right"))
            b = min(L, max(b, a + 1))
            Ap = (Tp[a : b + 1] - Tp[a]).astype(idx, copy=False)
            q0, q1 = int(Tp[a]), int(Tp[b])
            Aj = Tj[q0:q1]
            m = b - a
            if q1 > q0:
                cnnz = int(_sparsetools.csr_matmat_maxnnz(m, L, Ap, Aj, Yp, Yj))
                Cp = np.empty(m + 1, dtype=_index_dtype(cnnz, L))
                Cj = np.empty(cnnz, dtype=Cp.dtype)
                Cx = np.empty(cnnz, dtype=np.int32)
                cidx = Cp.dtype
                if cidx != idx:  # pragma: no cover - a block product beyond 2^31 entries
                    Ap, Aj, Yp2, Yj2 = (x.astype(cidx) for x in (Ap, Aj, Yp, Yj))
                else:
                    Yp2, Yj2 = Yp, Yj
                _sparsetools.csr_matmat(m, L, Ap, Aj, ones[: q1 - q0], Yp2, Yj2, ones, Cp, Cj, Cx)
                row = np.repeat(np.arange(a, b, dtype=Cj.dtype), np.diff(Cp))
                keep = Cj >= row
                lengths = np.bincount(row[keep] - a, minlength=m)
                del row
                block = sp.csr_matrix(
                    (Cx[keep], Cj[keep].astype(idx, copy=False), np.r_[0, np.cumsum(lengths)]),
                    shape=(m, L),
                )
                del Cj, Cx, keep
                block.sort_indices()
                parts_p.append(np.diff(block.indptr))
                parts_j.append(block.indices)
                parts_x.append(block.data)
            else:
                parts_p.append(np.zeros(m, dtype=np.int64))
            if total > 0:
                bar.n = round(n * float(cum[b - 1]) / total)
                bar.refresh()
            a = b
        bar.n = n
        bar.refresh()
    del Tp, Tj, ones
    lengths = np.concatenate(parts_p) if parts_p else np.zeros(0, dtype=np.int64)
    out_nnz = int(lengths.sum())
    out_idx = _index_dtype(L, out_nnz)
    indptr = np.zeros(L + 1, dtype=out_idx)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.empty(out_nnz, dtype=out_idx)
    data = np.empty(out_nnz, dtype=np.int64)
    pos = 0
    while parts_j:  # move the blocks into place, freeing each as it goes
        j, x = parts_j.pop(0), parts_x.pop(0)
        indices[pos : pos + j.size] = j
        data[pos : pos + x.size] = x
        pos += j.size
    out = sp.csr_matrix((L, L), dtype=np.int64)
    out.data, out.indices, out.indptr = data, indices, indptr
    out.has_canonical_format = True
    return out

"""``LabelEmbedding``: fit from label co-occurrence, encode targets, decode (Chollet, 2016).

``LabelEmbedding`` turns co-occurrence counts into a symmetric PMI matrix M (L x L), factorises
it into E (L x d) with E E^T ~ M, encodes each sample's label set as the unit-normalised sum of
its labels' rows of E, and decodes a predicted d-vector by ranking the labels by similarity.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from labelsphere.artifacts import (
    FormatError,
    check_format,
    load_arrays,
    read_json,
    save_arrays,
    write_json,
)
from labelsphere.counting.cooccurrence import CooccurrenceCounter, _as_counting_matrix
from labelsphere.decode import DEFAULT_BLOCK_BYTES, topk_similar
from labelsphere.embedding.pmi import (
    DiagonalPolicy,
    PMIPolicy,
    _pmi_upper,
    _PMIOperator,
    pmi_matrix,
)
from labelsphere.embedding.solver import _basis_times, _fix_signs, _randomized_eigh
from labelsphere.labels import LabelVocabulary, as_multihot, check_multihot

__all__ = ["LabelEmbedding"]

Factorization = Literal["eigh", "svd"]
Similarity = Literal["dot", "cosine"]
Solver = Literal["auto", "dense", "randomized", "arpack"]

_FORMAT = "labelsphere.LabelEmbedding"
_FORMAT_VERSION = 1
# Below this many labels a dense eigendecomposition is exact and takes seconds.
_DENSE_MAX_LABELS = 2000
# Norms below this are treated as zero when normalising (float32 targets).
_EPS = 1e-12


class LabelEmbedding(BaseEstimator):
    """PMI label embedding: E (L x d) with E E^T ~ PMI, and encode/decode of label sets.

    Parameters
    ----------
    n_components : int, default=256
        Embedding dimension d; must be < L. ``factorization="eigh"`` may keep fewer (only
        positive eigenvalues); ``n_components_`` gives the number kept.
    pmi : {"zero", "positive", "smoothed"}, default="zero"
        Value of pairs that never co-occur (PMI = -inf) and of negative PMI; see ``pmi_matrix``.
        ``"zero"`` keeps the most label information in the oracle test (docs/oracle.md).
    diagonal : {"self_information", "zero"}, default="zero"
        Diagonal of the PMI matrix: each label's self-information log(N / c_i), or 0.
    smoothing : float, default=1.0
        Pseudo-count strength for ``pmi="smoothed"``; ignored otherwise.
    factorization : {"eigh", "svd"}, default="svd"
        ``"svd"``: the paper's U_d sqrt(S_d), the top singular triplets, i.e. the eigenpairs of
        largest |lambda| (E E^T = V |Lambda| V^T: negative directions are kept, sign dropped).
        ``"eigh"``: the top positive eigenpairs, E = V sqrt(lambda), the best positive
        semi-definite approximation of M; may keep fewer than d components.
    similarity : {"dot", "cosine"}, default="cosine"
        How ``decode`` ranks labels: inner product with E's rows, or with E's rows normalised
        (cosine removes the advantage of labels with long embeddings, i.e. frequent ones).
    solver : {"auto", "dense", "randomized", "arpack"}, default="auto"
        ``"dense"``: exact LAPACK eigendecomposition (O(L^2) memory, O(L^3) time).
        ``"randomized"``: randomized block Krylov (block Lanczos) on the sparse PMI operator.
        ``"arpack"``: scipy's Lanczos ``eigsh`` on the sparse operator.
        ``"auto"``: dense up to 2,000 labels, randomized above.
    n_iter : int, default=2
        Size of the Krylov basis of ``solver="randomized"``, in units of d: the basis holds
        ``max(n_iter * d, d + d/4)`` columns, each multiplied by the PMI matrix once (in blocks
        of d/16). More is closer to the exact eigenvectors, slower, and needs
        ``4 * n_labels * n_iter * d`` bytes. At 100,000 labels and d = 256 the default reaches
        an eigen-residual ``||M V - V Lambda|| / ||Lambda||`` of 0.06, better than
        scikit-learn's ``randomized_svd`` with 4 power iterations (0.07; docs/scale.md); on
        delicious (d = 256 of L = 983, forced ``solver="randomized"``) the oracle MAP@100 is
        0.826 / 0.838 / 0.838 for n_iter = 1 / 2 / 4, 0.838 exact.
    random_state : int, RandomState or None, default=None
        Seeds the randomized and ARPACK solvers.

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_labels, n_components_), float32
        One row per label.
    eigenvalues_ : ndarray of shape (n_components_,), float64
        Eigenvalues of the PMI matrix for the kept components (for ``"svd"``, the singular
        values are their absolute values), in decreasing order of what was selected.
    n_components_ : int
    n_labels_ : int
    n_samples_ : int
        Number of samples the counts came from.
    label_counts_ : ndarray of shape (n_labels,), int64
    vocabulary_ : LabelVocabulary or None
        Set when fitted on label names or given a vocabulary.

    Examples
    --------
    >>> from labelsphere import LabelEmbedding
    >>> Y = [["cat", "pet"], ["dog", "pet"], ["cat", "pet"], ["car"], ["car", "road"]]
    >>> emb = LabelEmbedding(n_components=3, random_state=0).fit(Y)
    >>> emb.embeddings_.shape
    (5, 3)
    >>> idx, scores = emb.decode(emb.encode([["cat", "pet"]]), k=2)
    >>> sorted(emb.vocabulary_.names[i] for i in idx[0])
    ['cat', 'pet']
    """

    # Checked by scikit-learn's ``_validate_params`` at fit time, with its error messages.
    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's declared-constraints idiom
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "pmi": [StrOptions({"zero", "positive", "smoothed"})],
        "diagonal": [StrOptions({"self_information", "zero"})],
        "smoothing": [Interval(Real, 0, None, closed="neither")],
        "factorization": [StrOptions({"eigh", "svd"})],
        "similarity": [StrOptions({"dot", "cosine"})],
        "solver": [StrOptions({"auto", "dense", "randomized", "arpack"})],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components: int = 256,
        *,
        pmi: PMIPolicy = "zero",
        diagonal: DiagonalPolicy = "zero",
        smoothing: float = 1.0,
        factorization: Factorization = "svd",
        similarity: Similarity = "cosine",
        solver: Solver = "auto",
        n_iter: int = 2,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_components = n_components
        self.pmi = pmi
        self.diagonal = diagonal
        self.smoothing = smoothing
        self.factorization = factorization
        self.similarity = similarity
        self.solver = solver
        self.n_iter = n_iter
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        Y: sp.spmatrix | np.ndarray | Sequence[Sequence[str]] | Sequence[Sequence[int]],
        y: None = None,
        vocabulary: LabelVocabulary | None = None,
        progress: bool = False,
    ) -> LabelEmbedding:
        """Count co-occurrences in ``Y`` and fit the embedding.

        Parameters
        ----------
        Y : multi-hot matrix of shape (n_samples, n_labels), or lists of label names
            Lists of names build a vocabulary (labels ordered by frequency) unless
            ``vocabulary`` is given.
        y : ignored
        vocabulary : LabelVocabulary, optional
            Names for the columns of a multi-hot ``Y``, or the vocabulary to encode names with.
        progress : bool, default=False
            Progress bars (rate and ETA) for counting and for the power iterations.

        Returns
        -------
        self
        """
        if not (sp.issparse(Y) or isinstance(Y, np.ndarray)):
            rows = [list(r) for r in Y]
            if any(isinstance(x, str) for r in rows for x in r):
                if vocabulary is None:
                    vocabulary = LabelVocabulary.from_lists(rows)
                Y = vocabulary.encode(rows)
            elif vocabulary is None:
                raise TypeError(
                    "lists of label indices are ambiguous about L; pass a multi-hot matrix "
                    "or a vocabulary"
                )
            else:
                Y = check_multihot(rows, n_labels=len(vocabulary))
        if not (
            isinstance(Y, (sp.csr_matrix, sp.csr_array))
            and (vocabulary is None or Y.shape[1] == len(vocabulary))
            and _as_counting_matrix(Y, Y.shape[1], None) is Y
        ):  # a canonical binary CSR matrix is counted as it is, without a copy
            Y = check_multihot(Y, n_labels=None if vocabulary is None else len(vocabulary))
        self._check_params(Y.shape[1])
        counter = CooccurrenceCounter(n_labels=Y.shape[1], vocabulary=vocabulary)
        counter.update(Y, progress=progress)
        del Y
        return self._fit(counter, progress, consume=True)

    def fit_counts(self, counts: CooccurrenceCounter, progress: bool = False) -> LabelEmbedding:
        """Fit from a ``CooccurrenceCounter`` (e.g. one merged from shards). Returns ``self``.

        ``progress=True`` shows a progress bar over the power iterations.
        """
        return self._fit(counts, progress, consume=False)

    def _fit(self, counts: CooccurrenceCounter, progress: bool, consume: bool) -> LabelEmbedding:
        """Fit from counts; ``consume=True`` drops the counts' pairs once PMI is computed."""
        self._check_params(counts.n_labels)
        L = counts.n_labels
        d = int(self.n_components)
        solver = self.solver
        if solver == "auto":
            solver = "dense" if L <= _DENSE_MAX_LABELS else "randomized"
        if solver == "dense":
            # Small L: the float64 matrix exactly as fitted before the float32 operator existed,
            # so the committed results reproduce bit for bit (float32 PMI values move nearly
            # degenerate eigenvectors; see docs/benchmarks/reproduce.md).
            S, offset = pmi_matrix(counts, self.pmi, self.diagonal, self.smoothing)
            M = S.toarray()
            if offset:
                seen = counts.label_counts_ > 0
                M += offset * (np.outer(seen, seen) - np.diag(seen.astype(np.float64)))
            w, V = scipy.linalg.eigh(M)
            del M, S
            w, V = self._select(w, V, d)
            E = V * np.sqrt(np.abs(w))[None, :]
            E = np.ascontiguousarray(_fix_signs(E), dtype=np.float32)
            return self._set_fitted(E, w, counts, solver)
        # The upper triangle of PMI, float32, sharing the counter's index arrays.
        upper, offset = _pmi_upper(counts, self.pmi, self.diagonal, self.smoothing)
        seen = counts.label_counts_ > 0
        n_samples, label_counts = int(counts.n_samples_), counts.label_counts_.copy()
        vocabulary = counts.vocabulary
        if consume:  # fit's own counter: its int64 counts are no longer needed
            counts._pairs = None  # type: ignore[assignment]
            del counts
        op = _PMIOperator(upper, offset, seen, copy=False)  # the values are ours: no copy
        del upper
        rng = check_random_state(self.random_state)
        if solver == "randomized":
            # Oversample generously: components must be picked by sign (eigh) or magnitude
            # (svd) from the subspace, and Ritz values near the cut converge last.
            size = min(L, d + max(d // 4, 16))
            w, Q, V = _randomized_eigh(op, L, d, size, int(self.n_iter), rng, progress)
            del op
            w, V = self._select(w, V, d)
            E = _basis_times(Q, V, np.sqrt(np.abs(w)))
            del Q
        else:
            if solver == "dense":
                w, V = scipy.linalg.eigh(op.dense())
            else:
                which = "LA" if self.factorization == "eigh" else "LM"
                v0 = rng.uniform(-1, 1, L)
                w, V = eigsh(op.linear_operator(), k=d, which=which, v0=v0)
            del op
            w, V = self._select(w, V, d)
            E = np.ascontiguousarray(V * np.sqrt(np.abs(w))[None, :], dtype=np.float32)
        _fix_signs(E)
        self.embeddings_ = E
        self.eigenvalues_ = w
        self.n_components_ = int(E.shape[1])
        self.n_labels_ = L
        self.n_samples_ = n_samples
        self.label_counts_ = label_counts
        self.vocabulary_ = vocabulary
        self.solver_ = solver
        self._set_decode_keys()
        return self

    def _set_fitted(
        self, E: np.ndarray, w: np.ndarray, counts: CooccurrenceCounter, solver: str
    ) -> LabelEmbedding:
        self.embeddings_ = E
        self.eigenvalues_ = w
        self.n_components_ = int(E.shape[1])
        self.n_labels_ = counts.n_labels
        self.n_samples_ = int(counts.n_samples_)
        self.label_counts_ = counts.label_counts_.copy()
        self.vocabulary_ = counts.vocabulary
        self.solver_ = solver
        self._set_decode_keys()
        return self

    def _select(self, w: np.ndarray, V: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        if self.factorization == "eigh":
            order = np.argsort(-w)[:d]
            order = order[w[order] > 0]
            if len(order) < d:
                warnings.warn(
                    f"the PMI matrix has only {len(order)} positive eigenvalues among those "
                    f"computed; keeping {len(order)} < n_components={d} components",
                    stacklevel=4,
                )
            if len(order) == 0:
                raise ValueError("the PMI matrix has no positive eigenvalue to embed with")
        else:
            order = np.argsort(-np.abs(w))[:d]
        return w[order], V[:, order]

    def _check_params(self, n_labels: int) -> None:
        """The declared constraints (scikit-learn's), then d < L, which needs the data."""
        self._validate_params()
        if self.n_components >= n_labels:
            raise ValueError(
                f"n_components={self.n_components} must be smaller than the number of labels "
                f"({n_labels})"
            )

    def _set_decode_keys(self) -> None:
        if self.similarity == "cosine":
            norms = np.linalg.norm(self.embeddings_, axis=1, keepdims=True)
            self._keys = self.embeddings_ / np.maximum(norms, _EPS)
        else:
            self._keys = self.embeddings_

    def _check_fitted(self) -> None:
        if not hasattr(self, "embeddings_"):
            raise NotFittedError("this LabelEmbedding is not fitted yet; call fit or fit_counts")

    # ------------------------------------------------------------------ encode / decode
    def encode(
        self, Y: sp.spmatrix | np.ndarray | Sequence[Sequence[str]] | Sequence[Sequence[int]]
    ) -> np.ndarray:
        """Targets on the unit sphere: each sample's label embeddings summed, L2-normalised.

        Parameters
        ----------
        Y : multi-hot matrix of shape (n_samples, n_labels), or lists of label names/indices

        Returns
        -------
        ndarray of shape (n_samples, n_components_), float32
            Unit-norm rows. A sample with no labels (or whose embeddings sum to ~0) gets the
            zero vector, never NaN; ``CosineProximityLoss`` skips such rows.
        """
        self._check_fitted()
        Y = as_multihot(Y, self.n_labels_, self.vocabulary_)
        T = np.asarray(Y.astype(np.float32) @ self.embeddings_, dtype=np.float32)
        norms = np.linalg.norm(T, axis=1, keepdims=True)
        # Divide only where the norm is meaningful: empty label sets stay exactly zero.
        np.divide(T, norms, out=T, where=norms > _EPS)
        T[(norms <= _EPS).ravel()] = 0.0
        return T

    def decode(
        self,
        vectors: np.ndarray,
        k: int = 10,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        backend: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k labels of each predicted vector by similarity with the label embeddings.

        Exact by default, in blocks so that memory stays under ``block_bytes``.

        Parameters
        ----------
        vectors : ndarray of shape (n, n_components_)
        k : int, default=10
        backend : str, optional
            A ``labelsphere.decode.LabelIndex`` backend (``"exact"``, ``"faiss-flat"``,
            ``"faiss-hnsw"``, ``"faiss-ivf"``), built once over the label vectors and kept;
            ``None`` is the exact blocked search.

        Returns
        -------
        indices : ndarray of shape (n, min(k, n_labels_)), int64, best first
        scores : ndarray of shape (n, min(k, n_labels_)), float32
        """
        self._check_fitted()
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.n_components_:
            raise ValueError(
                f"vectors must have shape (n, {self.n_components_}), got {vectors.shape}"
            )
        if not np.all(np.isfinite(vectors)):
            raise ValueError("vectors contain NaN or infinite values")
        if backend is None:
            return topk_similar(vectors, self._keys, k, block_bytes=block_bytes)
        from labelsphere.decode import LabelIndex

        indexes = self.__dict__.setdefault("_indexes", {})
        if backend not in indexes:
            indexes[backend] = LabelIndex(backend, device="cpu").fit(self._keys)
        return indexes[backend].search(vectors, min(k, self.n_labels_))

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Similarity of each vector with every label: shape (n, n_labels_). Dense; small n only."""
        self._check_fitted()
        return np.asarray(vectors, dtype=np.float32) @ self._keys.T

    def similar(self, label: str | int, k: int = 10) -> list[tuple[str | int, float]]:
        """The k labels nearest to ``label`` by cosine similarity of their embeddings.

        ``label`` is a name (needs a vocabulary) or an index. Returns ``(label, similarity)``
        pairs, best first, the label itself excluded; labels are names when a vocabulary exists.
        """
        self._check_fitted()
        if isinstance(label, str):
            if self.vocabulary_ is None:
                raise TypeError("label names need a vocabulary; pass an index")
            i = self.vocabulary_.index(label)
        else:
            i = int(label)
            if not 0 <= i < self.n_labels_:
                raise IndexError(f"label index {i} outside [0, {self.n_labels_})")
        norms = np.linalg.norm(self.embeddings_, axis=1)
        unit = self.embeddings_ / np.maximum(norms, _EPS)[:, None]
        idx, sims = topk_similar(unit[i : i + 1], unit, k + 1)
        keep = idx[0] != i
        names = self.vocabulary_.names if self.vocabulary_ is not None else None
        return [
            (names[j] if names else int(j), float(s))
            for j, s in zip(idx[0][keep][:k], sims[0][keep][:k], strict=True)
        ]

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write ``embedding.safetensors`` and ``embedding.json`` into ``directory`` (atomically).

        Arrays go to safetensors, parameters, counts metadata and vocabulary to JSON; nothing
        is pickled.
        """
        self._check_fitted()
        directory = Path(directory)
        save_arrays(
            directory / "embedding.safetensors",
            {
                "embeddings": self.embeddings_,
                "eigenvalues": np.asarray(self.eigenvalues_, dtype=np.float64),
                "label_counts": self.label_counts_,
            },
        )
        params = {k: v for k, v in self.get_params().items() if k != "random_state"}
        rs = self.random_state
        params["random_state"] = rs if rs is None or isinstance(rs, (int, np.integer)) else None
        write_json(
            directory / "embedding.json",
            {
                "format": _FORMAT,
                "format_version": _FORMAT_VERSION,
                "params": params,
                "n_samples": self.n_samples_,
                "n_labels": self.n_labels_,
                "n_components": self.n_components_,
                "solver": self.solver_,
                "vocabulary": None if self.vocabulary_ is None else self.vocabulary_.to_json(),
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> LabelEmbedding:
        """Read an embedding written by ``save``. Corrupt or mismatched files raise ``FormatError``."""
        directory = Path(directory)
        meta_path = directory / "embedding.json"
        meta = read_json(meta_path)
        if not isinstance(meta, dict):
            raise FormatError(f"{meta_path}: expected a JSON object")
        check_format(meta, meta_path, _FORMAT, _FORMAT_VERSION)
        arrays = load_arrays(directory / "embedding.safetensors")
        try:
            est = cls(**meta["params"])
            E = arrays["embeddings"]
            L, d = int(meta["n_labels"]), int(meta["n_components"])
            vocab = (
                LabelVocabulary.from_json(meta["vocabulary"], source=str(meta_path))
                if meta.get("vocabulary")
                else None
            )
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{meta_path}: missing or invalid field ({e})") from None
        if E.shape != (L, d) or E.dtype != np.float32:
            raise FormatError(
                f"{directory / 'embedding.safetensors'}: embeddings have shape {E.shape} "
                f"{E.dtype}, metadata says ({L}, {d}) float32"
            )
        if vocab is not None and len(vocab) != L:
            raise FormatError(f"{meta_path}: vocabulary has {len(vocab)} names for {L} labels")
        est.embeddings_ = E
        est.eigenvalues_ = arrays["eigenvalues"]
        est.label_counts_ = arrays["label_counts"]
        est.n_components_ = d
        est.n_labels_ = L
        est.n_samples_ = int(meta["n_samples"])
        est.vocabulary_ = vocab
        est.solver_ = meta.get("solver", "unknown")
        est._set_decode_keys()
        return est

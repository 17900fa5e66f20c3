"""PMI label embeddings (Chollet, 2016): fit from label co-occurrence, encode targets, decode.

``LabelEmbedding`` turns co-occurrence counts into a symmetric PMI matrix M (L x L), factorises
it into E (L x d) with E E^T ~ M, encodes each sample's label set as the unit-normalised sum of
its labels' rows of E, and decodes a predicted d-vector by ranking the labels by similarity.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh
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
from labelsphere.cooccurrence import CooccurrenceCounter
from labelsphere.decode import DEFAULT_BLOCK_BYTES, topk_similar
from labelsphere.labels import LabelVocabulary, as_multihot, check_multihot

__all__ = ["LabelEmbedding", "pmi_matrix"]

PMIPolicy = Literal["zero", "positive", "smoothed"]
DiagonalPolicy = Literal["self_information", "zero"]
Factorization = Literal["eigh", "svd"]
Similarity = Literal["dot", "cosine"]
Solver = Literal["auto", "dense", "randomized", "arpack"]

_FORMAT = "labelsphere.LabelEmbedding"
_FORMAT_VERSION = 1
# Below this many labels a dense eigendecomposition is exact and takes seconds.
_DENSE_MAX_LABELS = 2000
# Norms below this are treated as zero when normalising (float32 targets).
_EPS = 1e-12


def pmi_matrix(
    counts: CooccurrenceCounter,
    pmi: PMIPolicy = "zero",
    diagonal: DiagonalPolicy = "zero",
    smoothing: float = 1.0,
) -> tuple[sp.csr_matrix, float]:
    """The PMI matrix of a counter, as ``M = S + offset * (m m^T - diag(m))`` (symmetric).

    ``S`` is sparse (entries only where labels co-occur, plus the diagonal); ``offset`` is the
    value given to pairs that never co-occur and ``m`` marks the labels seen at least once.
    ``offset`` is 0 except for ``pmi="smoothed"``, which keeps M = sparse + rank one so that
    even the smoothed matrix never has to be materialised densely for large L.

    Policies for a pair with co-occurrence ratio ``r = c_ij N / (c_i c_j)``:

    * ``"zero"``: ``log r`` where the pair co-occurs, 0 where it never does (the -inf is clipped).
    * ``"positive"``: ``max(log r, 0)`` (positive PMI), 0 where it never co-occurs.
    * ``"smoothed"``: ``log((r + a) / (1 + a))`` with ``a = smoothing``: the counts shrunk towards
      independence by ``a`` pseudo-samples' worth of the expected count ``c_i c_j / N``. Never
      co-occurring pairs get ``log(a / (1 + a))`` (-0.69 for a = 1) instead of -inf.

    The diagonal holds the self-information ``log(N / c_i)`` (the same formula with c_ii = c_i;
    smoothed under ``"smoothed"``) or 0. Labels never seen have an all-zero row and column.

    Returns
    -------
    S : csr_matrix of shape (L, L), float64
    offset : float
    """
    if pmi not in ("zero", "positive", "smoothed"):
        raise ValueError(f"pmi must be 'zero', 'positive' or 'smoothed', got {pmi!r}")
    if diagonal not in ("self_information", "zero"):
        raise ValueError(f"diagonal must be 'self_information' or 'zero', got {diagonal!r}")
    if pmi == "smoothed" and not smoothing > 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing}")
    N = counts.n_samples_
    if N == 0:
        raise ValueError("the counter holds no samples")
    upper = counts.pair_counts(full=False).tocoo()
    c = counts.label_counts_.astype(np.float64)
    i, j = upper.row, upper.col
    # log r in float64: c_ij * N can exceed 2^53 only beyond any realistic data set.
    log_r = np.log(upper.data.astype(np.float64)) + np.log(N) - np.log(c[i]) - np.log(c[j])
    on_diag = i == j
    offset = 0.0
    if pmi == "zero":
        vals = log_r
    elif pmi == "positive":
        vals = np.maximum(log_r, 0.0)
    else:
        a = float(smoothing)
        vals = np.logaddexp(log_r, np.log(a)) - np.log1p(a)  # log((r + a) / (1 + a)), overflow-free
        offset = float(np.log(a) - np.log1p(a))
        # Off-diagonal entries are stored relative to the constant background; the background
        # term (m m^T - diag(m)) is zero on the diagonal, so diagonal entries are stored as is.
        vals = np.where(on_diag, vals, vals - offset)
    if diagonal == "zero":
        vals = np.where(on_diag, 0.0, vals)
    upper_s = sp.csr_matrix((vals, (i, j)), shape=upper.shape)
    upper_s.eliminate_zeros()
    S = upper_s + sp.triu(upper_s, k=1).T
    return sp.csr_matrix(S), offset


def _symmetric_operator(S: sp.csr_matrix, offset: float, seen: np.ndarray) -> LinearOperator:
    """``x -> S x + offset * (m m^T - diag(m)) x`` without forming the dense matrix."""
    m = seen.astype(S.dtype)

    def matmat(X: np.ndarray) -> np.ndarray:
        X2 = X.reshape(X.shape[0], -1)
        out = S @ X2
        if offset:
            out += offset * (np.outer(m, m @ X2) - m[:, None] * X2)
        return out.reshape(X.shape) if X.ndim == 1 else out

    L = S.shape[0]
    return LinearOperator((L, L), matvec=matmat, matmat=matmat, rmatvec=matmat, dtype=S.dtype)


def _orthonormalize(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis of X's columns: Cholesky-QR twice (BLAS-3), QR if X is rank deficient.

    Householder QR of a tall (L x k) matrix runs at BLAS-2 speed (on this project's 2-core
    machines, 20-30 s for 17,000 x 320); two Cholesky-QR passes give the same orthogonality
    to machine precision (Fukaya et al., 2014) with two Gram products and two triangular solves.
    """
    X = np.asarray(X, dtype=np.float64)
    try:
        for _ in range(2):
            R = np.linalg.cholesky(X.T @ X).T  # upper triangular, X = Q R
            X = scipy.linalg.solve_triangular(R, X.T, trans="T", lower=False, check_finite=False).T
        return X
    except np.linalg.LinAlgError:
        return scipy.linalg.qr(X, mode="economic", check_finite=False)[0]


def _randomized_eigh(
    matmat: Callable[[np.ndarray], np.ndarray],
    L: int,
    size: int,
    n_iter: int,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate dominant eigenpairs of a symmetric operator (Halko et al. 2011, alg. 4.4 + 5.3).

    Subspace iteration from a Gaussian start, then Rayleigh-Ritz on the subspace. Products run
    in float32 (the operator's dtype); between power iterations the block is only renormalised
    with an LU factorisation, as scikit-learn's ``randomized_range_finder`` does, and it is
    orthonormalised once, in float64, before Rayleigh-Ritz. scikit-learn's range finder needs an
    explicit matrix and its transpose; this works on the implicit sparse + rank-one PMI operator
    and uses symmetry (one product per iteration, not two).
    """
    Q = matmat(rng.standard_normal((L, size)).astype(np.float32))
    for _ in range(n_iter):
        # permute_l=True returns P L: well-conditioned enough to keep the block from collapsing.
        Q = scipy.linalg.lu(Q, permute_l=True, check_finite=False)[0]
        Q = matmat(Q.astype(np.float32))
    Q = _orthonormalize(Q)
    B = Q.T @ matmat(Q.astype(np.float32)).astype(np.float64)
    B = (B + B.T) / 2  # symmetric up to rounding
    w, V = scipy.linalg.eigh(B)
    return w, Q @ V


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
        ``"randomized"``: randomized subspace iteration on the sparse PMI operator.
        ``"arpack"``: scipy's Lanczos ``eigsh`` on the sparse operator.
        ``"auto"``: dense up to 2,000 labels, randomized above.
    n_iter : int, default=2
        Subspace (power) iterations for ``solver="randomized"``. More is closer to the exact
        eigenvectors and slower: on delicious (d=256 of L=983, the hard case) the oracle MAP@100
        is 0.818 / 0.828 / 0.836 for 1 / 2 / 4 iterations, 0.838 exact.
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
        Y = check_multihot(Y, n_labels=None if vocabulary is None else len(vocabulary))
        counter = CooccurrenceCounter(n_labels=Y.shape[1], vocabulary=vocabulary)
        counter.update(Y)
        return self.fit_counts(counter)

    def fit_counts(self, counts: CooccurrenceCounter) -> LabelEmbedding:
        """Fit from a ``CooccurrenceCounter`` (e.g. one merged from shards). Returns ``self``."""
        self._check_params(counts.n_labels)
        L = counts.n_labels
        d = int(self.n_components)
        S, offset = pmi_matrix(counts, self.pmi, self.diagonal, self.smoothing)
        seen = counts.label_counts_ > 0
        solver = self.solver
        if solver == "auto":
            solver = "dense" if L <= _DENSE_MAX_LABELS else "randomized"
        rng = check_random_state(self.random_state)
        op = _symmetric_operator(S, offset, seen)
        if solver == "dense":
            M = S.toarray()
            if offset:
                M += offset * (np.outer(seen, seen) - np.diag(seen.astype(np.float64)))
            w, V = scipy.linalg.eigh(M)
        elif solver == "randomized":
            # Oversample generously: components must be picked by sign (eigh) or magnitude
            # (svd) from the subspace, and Ritz values near the cut converge last.
            size = min(L, d + max(d // 4, 16))
            op32 = _symmetric_operator(S.astype(np.float32), offset, seen)
            w, V = _randomized_eigh(op32.matmat, L, size, int(self.n_iter), rng)
        else:
            which = "LA" if self.factorization == "eigh" else "LM"
            v0 = rng.uniform(-1, 1, L)
            w, V = eigsh(op, k=d, which=which, v0=v0)
        w, V = self._select(w, V, d)
        E = V * np.sqrt(np.abs(w))[None, :]
        E = _fix_signs(E)
        self.embeddings_ = np.ascontiguousarray(E, dtype=np.float32)
        self.eigenvalues_ = w
        self.n_components_ = int(E.shape[1])
        self.n_labels_ = L
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
                    stacklevel=3,
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
        self, vectors: np.ndarray, k: int = 10, block_bytes: int = DEFAULT_BLOCK_BYTES
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k labels of each predicted vector by similarity with the label embeddings.

        Exact (no approximate index), in blocks so that memory stays under ``block_bytes``.

        Parameters
        ----------
        vectors : ndarray of shape (n, n_components_)
        k : int, default=10

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
        return topk_similar(vectors, self._keys, k, block_bytes=block_bytes)

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


def _fix_signs(E: np.ndarray) -> np.ndarray:
    """Make each column's largest-magnitude entry positive, so fits are reproducible.

    Eigenvectors are defined up to sign; solvers and BLAS builds disagree on it.
    """
    if E.size == 0:
        return E
    pivot = np.argmax(np.abs(E), axis=0)
    signs = np.sign(E[pivot, np.arange(E.shape[1])])
    signs[signs == 0] = 1.0
    return E * signs[None, :]

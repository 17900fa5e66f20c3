"""Evaluation metrics for multi-label ranking: P@k, R@k, nDCG@k, MAP@k, PSP@k, per-label AP, mAP.

Inputs
------
``Y_true``
    Multi-hot ground truth of shape (n, L): a scipy sparse matrix or a dense 0/1 array. It is
    validated with :func:`labelsphere.labels.check_multihot` and used as CSR internally, so
    n = 20k samples by L = 35k labels costs memory proportional to the number of true labels.
``ranked``
    Top-k label indices of shape (n, k'), integer, best first, as returned by
    :func:`labelsphere.decode.topk` or :func:`labelsphere.decode.topk_similar`. Metrics at k use
    the first k columns; ``k' >= min(k, L)`` is required (a ranking cannot hold more than L
    distinct labels, so for k > L the full ranking of all L labels is enough). Indices must lie
    in [0, L) and be distinct within the columns used.
``scores``
    Dense real scores of shape (n, L) (higher = more relevant), needed only for the per-label
    metrics (:func:`average_precision_per_label`, :func:`mean_average_precision`) and for
    :func:`evaluate` when no ranking is given.

Conventions
-----------
* **Samples with no true label.** ``precision_at_k`` counts them as 0 and averages over *all*
  samples, as the Extreme Classification Repository and pyxclib do (so P@k of a perfect ranking
  is below 1 when such samples exist). ``recall_at_k``, ``ndcg_at_k`` and ``map_at_k`` average
  over the samples with at least one true label only (their per-sample value is 0/0 otherwise).
  ``psp_at_k`` is a ratio of sums over samples, to which such samples add 0 on both sides.
* **k larger than the number of labels.** P@k still divides by k (pyxclib convention).
* **Nothing to average.** When no sample (or, for mAP, no label) qualifies, the result is NaN.
* **Ties.** Ranking metrics take ``ranked`` as given; :func:`labelsphere.decode.topk` breaks
  ties in favour of the lower label index. :func:`average_precision_per_label` handles tied
  scores exactly as scikit-learn does (see there).

All functions are vectorised over samples: membership of the ranked labels in the true sets is
one binary search of ``row * L + label`` keys in the sorted CSR keys, and everything else is
array arithmetic on the resulting (n, k) hit matrix.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from labelsphere.decode import topk
from labelsphere.labels import check_multihot

__all__ = [
    "average_precision_per_label",
    "evaluate",
    "map_at_k",
    "mean_average_precision",
    "ndcg_at_k",
    "precision_at_k",
    "propensities_from_counts",
    "propensity_scores",
    "psp_at_k",
    "recall_at_k",
]

# Number of score elements processed at once by average_precision_per_label (about 32 MiB per
# float64 temporary); bounds memory for large (n, L) without hurting vectorisation.
_AP_BLOCK_ELEMS = 1 << 22


# ---------------------------------------------------------------------------- validation
def _check_y(Y_true: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    if not sp.issparse(Y_true) and not isinstance(Y_true, np.ndarray):
        Y_true = np.asarray(Y_true)
    return check_multihot(Y_true, name="Y_true")


def _check_k(k: int, name: str = "k") -> int:
    try:
        k = operator.index(k)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {k!r}") from None
    if k < 1:
        raise ValueError(f"{name} must be >= 1, got {k}")
    return k


def _check_ranked(ranked: np.ndarray, n: int, L: int, width: int, what: str) -> np.ndarray:
    """Validate ``ranked`` against Y_true of shape (n, L) and return its first ``width`` columns.

    ``width`` is min(k, L) for the largest k requested; ``what`` names the metric for messages.
    """
    R = np.asarray(ranked)
    if R.ndim != 2:
        raise ValueError(f"ranked must be 2-D (n_samples, k), got shape {R.shape}")
    if not np.issubdtype(R.dtype, np.integer):
        raise ValueError(f"ranked must hold integer label indices, got dtype {R.dtype}")
    if R.shape[0] != n:
        raise ValueError(f"ranked has {R.shape[0]} rows but Y_true has {n} samples")
    if R.shape[1] < width:
        raise ValueError(
            f"ranked has {R.shape[1]} columns but {what} needs the top {width} labels "
            f"(ranked must be at least min(k, n_labels) = {width} wide)"
        )
    R = R[:, :width].astype(np.int64, copy=False)
    if R.size:
        bad = (R < 0) | (R >= L)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(f"ranked[{r}, {c}] = {R[r, c]} is not a label index in [0, {L})")
        # Repeated labels would be counted as several hits.
        srt = np.sort(R, axis=1)
        dup = srt[:, 1:] == srt[:, :-1]
        if dup.any():
            r, c = np.argwhere(dup)[0]
            raise ValueError(f"ranked row {r} lists label {srt[r, c]} more than once")
    return R


def _check_scores(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if sp.issparse(scores):
        raise ValueError("scores must be a dense array of shape (n, L), got a sparse matrix")
    S = np.asarray(scores)
    if S.shape != shape:
        raise ValueError(f"scores has shape {S.shape} but Y_true has shape {shape}")
    if not np.issubdtype(S.dtype, np.floating):
        S = S.astype(np.float64)
    if np.isnan(S).any():
        r, c = np.argwhere(np.isnan(S))[0]
        raise ValueError(f"scores[{r}, {c}] is NaN")
    return S


def _check_label_vector(v: np.ndarray, L: int, name: str, positive: bool) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (L,):
        raise ValueError(f"{name} must have shape ({L},) (one per label), got {v.shape}")
    ok = np.isfinite(v) & ((v > 0) if positive else (v >= 0))
    if not ok.all():
        j = int(np.flatnonzero(~ok)[0])
        need = "finite and > 0" if positive else "finite and >= 0"
        raise ValueError(f"{name} must be {need}; label {j} has {v[j]!r}")
    return v


# ---------------------------------------------------------------------------- core
def _hits(Y: sp.csr_matrix, R: np.ndarray) -> np.ndarray:
    """Boolean (n, w): ``hits[i, j]`` is True when label ``R[i, j]`` is a true label of row i.

    Each true entry is encoded as the key ``row * L + col``; canonical CSR (rows in order, sorted
    column indices) makes these keys sorted, so membership is one ``searchsorted``. int64 keys
    are exact for n * L < 2**63.
    """
    n, L = Y.shape
    if R.size == 0 or Y.nnz == 0:
        return np.zeros(R.shape, dtype=bool)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(Y.indptr))
    keys = rows * L + Y.indices.astype(np.int64)
    query = np.arange(n, dtype=np.int64)[:, None] * L + R
    pos = np.searchsorted(keys, query)
    np.minimum(pos, keys.size - 1, out=pos)
    return keys[pos] == query


def _n_true(Y: sp.csr_matrix) -> np.ndarray:
    return np.diff(Y.indptr).astype(np.int64)


def _mean(x: np.ndarray) -> float:
    """Mean as a Python float; NaN (without a warning) for an empty array."""
    return float(x.mean()) if x.size else math.nan


def _row_topk_sum(Y: sp.csr_matrix, values: np.ndarray, k: int) -> np.ndarray:
    """Per row of Y, the sum of the k largest ``values[label]`` over the row's true labels."""
    n = Y.shape[0]
    counts = np.diff(Y.indptr)
    rows = np.repeat(np.arange(n), counts)
    v = values[Y.indices]
    # Sort by row, then by decreasing value within the row; rows stay in CSR order, so the
    # position of an entry within its row is its global position minus the row start.
    order = np.lexsort((-v, rows))
    v = v[order]
    pos = np.arange(v.size) - Y.indptr[rows]
    keep = pos < k
    return np.bincount(rows[keep], weights=v[keep], minlength=n)


def _discounts(k: int) -> np.ndarray:
    # 1 / log2(i + 1) for ranks i = 1..k.
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _precision(H: np.ndarray, k: int) -> float:
    return _mean(H[:, :k].sum(axis=1) / k)


def _recall(H: np.ndarray, n_true: np.ndarray, k: int) -> float:
    has = n_true > 0
    return _mean(H[has, :k].sum(axis=1) / n_true[has])


def _ndcg(H: np.ndarray, n_true: np.ndarray, k: int) -> float:
    w = min(k, H.shape[1])
    disc = _discounts(w)
    has = n_true > 0
    dcg = H[has, :w] @ disc
    # Ideal DCG: all min(k, |true|) relevant labels at the top; ideal[m - 1] = sum of the first m
    # discounts. |true| <= L, and w = min(k, L), so the index stays in range.
    ideal = np.cumsum(disc)[np.minimum(n_true[has], w) - 1]
    return _mean(dcg / ideal)


def _map(
    Y: sp.csr_matrix,
    R: np.ndarray,
    H: np.ndarray,
    n_true: np.ndarray,
    k: int,
    label_weights: np.ndarray | None,
) -> float:
    w = min(k, H.shape[1])
    Hk = H[:, :w].astype(np.float64)
    prec_at_i = np.cumsum(Hk, axis=1) / np.arange(1, w + 1)  # P@i for i = 1..w
    gain = Hk * prec_at_i
    if label_weights is None:
        norm = np.minimum(k, n_true).astype(np.float64)
    else:
        gain *= label_weights[R[:, :w]]
        norm = _row_topk_sum(Y, label_weights, k)
    valid = norm > 0
    return _mean(gain[valid].sum(axis=1) / norm[valid])


def _psp(Y: sp.csr_matrix, R: np.ndarray, H: np.ndarray, inv_p: np.ndarray, k: int) -> float:
    w = min(k, H.shape[1])
    num = float((H[:, :w] * inv_p[R[:, :w]]).sum())
    den = float(_row_topk_sum(Y, inv_p, k).sum())
    return num / den if den > 0 else math.nan


def _prepare(
    Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int, what: str
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, int]:
    Y = _check_y(Y_true)
    k = _check_k(k)
    n, L = Y.shape
    R = _check_ranked(ranked, n, L, min(k, L), f"{what}@{k}")
    return Y, R, _hits(Y, R), _n_true(Y), k


# ---------------------------------------------------------------------------- ranking metrics
def precision_at_k(Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Precision at k: mean over samples of |top-k ∩ true| / k.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
        Multi-hot ground truth.
    ranked : ndarray of shape (n, k'), int
        Label indices, best first; ``k' >= min(k, L)``.
    k : int

    Returns
    -------
    float
        Averaged over **all** samples; a sample with no true label scores 0 (Extreme
        Classification Repository / pyxclib convention). The denominator is k even when k > L.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> precision_at_k(Y, ranked, 1), precision_at_k(Y, ranked, 2)
    (0.5, 0.75)
    """
    _, _, H, _, k = _prepare(Y_true, ranked, k, "P")
    return _precision(H, k)


def recall_at_k(Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Recall at k: mean of |top-k ∩ true| / |true| over samples with at least one true label.

    Shapes as in :func:`precision_at_k`. NaN when no sample has a true label.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    >>> ranked = np.array([[0, 2], [2, 1], [0, 1]])
    >>> recall_at_k(Y, ranked, 1), recall_at_k(Y, ranked, 2)
    (0.25, 1.0)
    """
    _, _, H, n_true, k = _prepare(Y_true, ranked, k, "R")
    return _recall(H, n_true, k)


def ndcg_at_k(Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Normalised discounted cumulative gain at k with binary relevance.

    DCG@k = Σ_{i≤k} rel_i / log2(i + 1) (ranks i from 1); the ideal DCG places all
    min(k, |true|) relevant labels first. Averaged over samples with at least one true label
    (NaN if none). Equals ``sklearn.metrics.ndcg_score(Y, S, k=k)`` on those samples when the
    scores have no ties. Shapes as in :func:`precision_at_k`.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> round(ndcg_at_k(Y, ranked, 2), 4)  # (1 + 1/log2(3)) / 2
    0.8155
    """
    _, _, H, n_true, k = _prepare(Y_true, ranked, k, "nDCG")
    return _ndcg(H, n_true, k)


def map_at_k(
    Y_true: sp.spmatrix | np.ndarray,
    ranked: np.ndarray,
    k: int = 100,
    label_weights: np.ndarray | None = None,
) -> float:
    """Mean average precision at k (the MAP@100 of Chollet, 2016, for k = 100).

    Per sample, AP@k = (1 / min(k, |true|)) · Σ_{i≤k} P@i · rel_i, where rel_i says whether the
    label at rank i is true and P@i is the precision of the first i ranked labels. The mean is
    taken over samples with at least one true label. With k ≥ L this equals scikit-learn's
    ``average_precision_score(Y, S, average="samples")`` on those samples (scores without ties).

    With ``label_weights`` w of shape (L,), w ≥ 0, each hit is weighted by its label's weight:

        AP@k_w = Σ_{i≤k} rel_i · w[label_i] · P@i / Σ(largest min(k, |true|) weights among the
        sample's true labels),

    so a ranking that puts all true labels first (heaviest first, when there are more than k)
    scores 1, and all-ones weights give the unweighted AP. Samples whose normaliser is 0 (no true
    label, or only zero-weight true labels) are left out of the mean.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
    ranked : ndarray of shape (n, k'), int, best first, ``k' >= min(k, L)``
    k : int, default 100
    label_weights : ndarray of shape (L,), optional

    Returns
    -------
    float (NaN when no sample qualifies)

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> map_at_k(Y, ranked, 2)  # ((1 + 1) / 2 + (1/2) / 1) / 2
    0.75
    """
    Y, R, H, n_true, k = _prepare(Y_true, ranked, k, "MAP")
    w = (
        None
        if label_weights is None
        else _check_label_vector(label_weights, Y.shape[1], "label_weights", positive=False)
    )
    return _map(Y, R, H, n_true, k, w)


def propensity_scores(
    Y_train: sp.spmatrix | np.ndarray, A: float = 0.55, B: float = 1.5
) -> np.ndarray:
    """Label propensities of Jain, Prabhu & Varma (KDD 2016).

    p_l = 1 / (1 + C · exp(-A · log(N_l + B))) = 1 / (1 + C · (N_l + B)^(-A)), with
    C = (log N − 1) · (B + 1)^A, N the number of training samples and N_l the number of training
    samples carrying label l. The paper's defaults are A = 0.55, B = 1.5 (A = 0.6, B = 2.6 for
    Amazon, A = 0.5, B = 0.4 for Wikipedia). Rare labels get small propensities; a label never
    seen in training gets 1 / (1 + C · B^(-A)).

    Parameters
    ----------
    Y_train : sparse matrix or ndarray of shape (N, L)
    A, B : float
        A > 0, B > 0.

    Returns
    -------
    ndarray of shape (L,), float64, in (0, 1)

    Examples
    --------
    >>> Y_train = np.array([[1, 0], [1, 0], [1, 1], [1, 0], [1, 0]])
    >>> propensity_scores(Y_train).round(4).tolist()  # N_l = 1 gives exactly 1 / log N
    [0.7351, 0.6213]
    """
    Y = _check_y(Y_train)
    N, L = Y.shape
    return propensities_from_counts(np.bincount(Y.indices, minlength=L), N, A, B)


def propensities_from_counts(
    label_counts: np.ndarray, n_samples: int, A: float = 0.55, B: float = 1.5
) -> np.ndarray:
    """:func:`propensity_scores` from the training label counts (L,) and sample count N.

    What a saved model keeps (``label_counts.safetensors``), so PSP@k can be computed without
    the training data.

    Examples
    --------
    >>> propensities_from_counts(np.array([5, 1]), 5).round(4).tolist()
    [0.7351, 0.6213]
    """
    if not (math.isfinite(A) and A > 0 and math.isfinite(B) and B > 0):
        raise ValueError(f"A and B must be finite and > 0, got A={A!r}, B={B!r}")
    N = int(n_samples)
    if N < 3:
        # C must be positive (log N > 1), otherwise p_l >= 1 and the formula is meaningless.
        raise ValueError(f"propensity_scores needs at least 3 training samples, got {N}")
    counts = np.asarray(label_counts).astype(np.float64)
    C = (math.log(N) - 1.0) * (B + 1.0) ** A
    return 1.0 / (1.0 + C * np.exp(-A * np.log(counts + B)))


def psp_at_k(
    Y_true: sp.spmatrix | np.ndarray, ranked: np.ndarray, k: int, propensities: np.ndarray
) -> float:
    """Propensity-scored precision at k, normalised as in pyxclib.

    PSP@k = Σ_samples Σ_{i≤k} rel_i / p[label_i]  /  Σ_samples (sum of the min(k, |true|)
    largest 1/p over the sample's true labels).

    The denominator is the best value any ranking could reach, so PSP@k lies in [0, 1] and a
    perfect ranking scores 1. It is a ratio of sums over samples (not a mean of per-sample
    ratios); samples with no true label add 0 to both sums. (The unnormalised PSP@k of the
    paper, Σ rel/p / (k · n), equals this value times the same expression for the best
    ranking.) NaN if no sample has a true label.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
    ranked : ndarray of shape (n, k'), int, best first, ``k' >= min(k, L)``
    k : int
    propensities : ndarray of shape (L,), > 0
        From :func:`propensity_scores` on the training labels.

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 2], [2, 1]])
    >>> p = np.array([0.5, 0.25, 1.0])  # 1/p = 2, 4, 1
    >>> round(psp_at_k(Y, ranked, 1, p), 4)  # (2 + 0) / (2 + 4)
    0.3333
    """
    Y, R, H, _, k = _prepare(Y_true, ranked, k, "PSP")
    p = _check_label_vector(propensities, Y.shape[1], "propensities", positive=True)
    return _psp(Y, R, H, 1.0 / p, k)


# ---------------------------------------------------------------------------- per-label metrics
def _ap_per_label(Y: sp.csr_matrix, S: np.ndarray) -> np.ndarray:
    n, L = Y.shape
    out = np.full(L, np.nan)
    Yc = Y.tocsc()
    n_pos = np.diff(Yc.indptr)
    cols = np.flatnonzero(n_pos > 0)
    if n == 0 or cols.size == 0:
        return out
    block = max(1, _AP_BLOCK_ELEMS // n)
    positions = np.arange(n)
    for c0 in range(0, cols.size, block):
        c = cols[c0 : c0 + block]
        s = np.ascontiguousarray(S[:, c].T)  # (b, n): one label per row, contiguous for sorting
        y = Yc[:, c].T.toarray()
        order = np.argsort(-s, axis=1)  # descending; the order within ties does not matter
        s = np.take_along_axis(s, order, axis=1)
        y = np.take_along_axis(y, order, axis=1)
        tps = np.cumsum(y, axis=1, dtype=np.float64)
        # scikit-learn evaluates precision only at distinct thresholds: every positive in a run
        # of tied scores gets the precision at the *end* of its run. end[i] = the last position
        # of the run containing i (the last position overall always ends a run, so it doubles
        # as the sentinel for the reverse running minimum).
        is_last = np.ones(s.shape, dtype=bool)
        is_last[:, :-1] = s[:, :-1] != s[:, 1:]
        end = np.where(is_last, positions, n - 1)
        end = np.minimum.accumulate(end[:, ::-1], axis=1)[:, ::-1]
        precision = np.take_along_axis(tps, end, axis=1) / (end + 1)
        # AP = Σ (recall step) · precision = Σ_{positives} precision / n_pos.
        out[c] = (y * precision).sum(axis=1) / n_pos[c]
    return out


def average_precision_per_label(Y_true: sp.spmatrix | np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision of each label, ranking the samples by that label's score.

    Same definition as ``sklearn.metrics.average_precision_score(Y, S, average=None)``:
    AP = Σ_t (R_t − R_{t−1}) · P_t over the distinct score thresholds t, which is the mean,
    over the label's positive samples, of the precision at the threshold equal to that sample's
    score. **Ties** are handled as scikit-learn does: samples with equal scores enter together,
    so a positive tied with negatives gets the precision after the whole tied group (result
    matches scikit-learn exactly, ties included).

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
    scores : ndarray of shape (n, L), dense, no NaN

    Returns
    -------
    ndarray of shape (L,), float64
        NaN for labels with no positive sample (scikit-learn returns 0 with a warning there).

    Notes
    -----
    Columns are processed in blocks of about 4M scores, so memory stays bounded for large L;
    time is O(n log n) per label.

    Examples
    --------
    >>> Y = np.array([[1, 0], [0, 0], [1, 0]])
    >>> S = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.3]])
    >>> np.round(average_precision_per_label(Y, S), 4).tolist()  # (1/1 + 2/3) / 2
    [0.8333, nan]
    """
    Y = _check_y(Y_true)
    S = _check_scores(scores, Y.shape)
    return _ap_per_label(Y, S)


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def mean_average_precision(Y_true: sp.spmatrix | np.ndarray, scores: np.ndarray) -> float:
    """mAP: mean of :func:`average_precision_per_label` over labels with a positive sample.

    NaN when no label has a positive sample.

    Examples
    --------
    >>> Y = np.array([[1, 0], [0, 1], [1, 0]])
    >>> S = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.3]])
    >>> round(mean_average_precision(Y, S), 4)  # (5/6 + 1/2) / 2
    0.6667
    """
    return _nanmean(average_precision_per_label(Y_true, scores))


# ---------------------------------------------------------------------------- all at once
def evaluate(
    Y_true: sp.spmatrix | np.ndarray,
    scores: np.ndarray | None = None,
    ranked: np.ndarray | None = None,
    ks: Iterable[int] = (1, 3, 5),
    map_k: int | None = 100,
    propensities: np.ndarray | None = None,
) -> dict[str, float]:
    """Compute all metrics at once.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
    scores : ndarray of shape (n, L), optional
        Dense scores. Needed for ``"mAP"``; when ``ranked`` is not given the ranking is
        ``topk(scores, max(max(ks), map_k))`` (ties to the lower label index).
    ranked : ndarray of shape (n, k'), int, optional
        Top labels, best first; at least min(max(ks, map_k), L) columns.
    ks : iterable of int
        Cut-offs for P@k, R@k, nDCG@k (and PSP@k).
    map_k : int or None, default 100
        Cut-off of ``"MAP@{map_k}"``; None skips it.
    propensities : ndarray of shape (L,), optional
        When given, ``"PSP@k"`` is reported for each k in ks.

    Returns
    -------
    dict
        Keys, in this order: ``"P@k"`` for each k, then ``"R@k"``, ``"nDCG@k"``, ``"PSP@k"``
        (with propensities), ``"MAP@{map_k}"`` and ``"mAP"`` (with scores). Values are floats,
        with the conventions of the individual functions (see the module docstring).

    Examples
    --------
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> S = np.array([[0.9, 0.1, 0.5], [0.1, 0.3, 0.6]])
    >>> res = evaluate(Y, S, ks=(1, 2), map_k=2)
    >>> {key: round(v, 4) for key, v in res.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'P@1': 0.5, 'P@2': 0.75, 'R@1': 0.25, 'R@2': 1.0, 'nDCG@1': 0.5, 'nDCG@2': 0.8155,
     'MAP@2': 0.75, 'mAP': 0.8333}
    """
    Y = _check_y(Y_true)
    n, L = Y.shape
    ks = tuple(_check_k(k, "each k in ks") for k in ks)
    if map_k is not None:
        map_k = _check_k(map_k, "map_k")
    if scores is None and ranked is None:
        raise ValueError("evaluate needs scores, ranked, or both")
    S = None if scores is None else _check_scores(scores, Y.shape)
    p = None
    if propensities is not None:
        p = _check_label_vector(propensities, L, "propensities", positive=True)

    out: dict[str, float] = {}
    cutoffs = ks + ((map_k,) if map_k is not None else ())
    if cutoffs:
        K = max(cutoffs)
        if ranked is None:
            assert S is not None
            ranked, _ = topk(S, K)
        R = _check_ranked(ranked, n, L, min(K, L), f"cut-off k={K}")
        H = _hits(Y, R)  # computed once, sliced for each k
        n_true = _n_true(Y)
        for k in ks:
            out[f"P@{k}"] = _precision(H, k)
        for k in ks:
            out[f"R@{k}"] = _recall(H, n_true, k)
        for k in ks:
            out[f"nDCG@{k}"] = _ndcg(H, n_true, k)
        if p is not None:
            inv_p = 1.0 / p
            for k in ks:
                out[f"PSP@{k}"] = _psp(Y, R, H, inv_p, k)
        if map_k is not None:
            out[f"MAP@{map_k}"] = _map(Y, R, H, n_true, map_k, None)
    if S is not None:
        out["mAP"] = _nanmean(_ap_per_label(Y, S))
    return out

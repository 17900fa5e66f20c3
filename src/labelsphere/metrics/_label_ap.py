"""Per-label metrics over dense scores: average precision per label and its mean, mAP."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from labelsphere.metrics._inputs import _check_scores, _check_y

# Number of score elements processed at once by average_precision_per_label (about 32 MiB per
# float64 temporary); bounds memory for large (n, L) without hurting vectorisation.
_AP_BLOCK_ELEMS = 1 << 22


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

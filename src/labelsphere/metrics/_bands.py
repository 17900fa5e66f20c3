"""Ranking metrics split by how often each label occurs in training: where a head gains or loses."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from labelsphere.metrics._inputs import (
    _check_k,
    _check_label_vector,
    _check_ranked,
    _check_y,
    _hits,
)
from labelsphere.metrics._label_ap import average_precision_per_label


def metrics_by_frequency_band(
    Y_true: sp.spmatrix | np.ndarray,
    ranked: np.ndarray,
    train_counts: np.ndarray,
    edges: list[int] | tuple[int, ...] | np.ndarray,
    ks: tuple[int, ...] = (5, 100),
    scores: np.ndarray | None = None,
) -> list[dict[str, float | int]]:
    """Recall@k and the share of the top-k slots per band of training frequency.

    Label j falls in band b when ``edges[b] <= train_counts[j] < edges[b + 1]`` (the last band
    is open above). For each band and each k in ``ks``:

    * ``R@k``: of the test pairs (sample, true label) whose label is in the band, the fraction
      ranked in the sample's top k. Summed over bands, weighted by ``positives_share``, it is
      the micro recall@k over all pairs.
    * ``top-k share``: the fraction of all top-k slots given to the band's labels; set beside
      ``positives_share`` (the band's fraction of the true pairs) it shows which bands a head
      favours.

    and, with ``scores``, ``mAP``: the mean average precision per label (ranking the test
    samples by that label's score) over the band's labels that occur in the test set.

    Parameters
    ----------
    Y_true : sparse matrix or ndarray of shape (n, L)
        Multi-hot test labels.
    ranked : ndarray of shape (n, k') with k' >= max(ks)
        Label indices, best first.
    train_counts : ndarray of shape (L,)
        How many training samples carry each label.
    edges : increasing integers, at least one
        Lower bounds of the bands; labels counted below ``edges[0]`` are in no band.
    ks : tuple of int
        Cut-offs for recall and top-k share.
    scores : ndarray of shape (n, L), optional
        Dense scores, for the per-label mAP.

    Returns
    -------
    rows : list of dict
        One per band: ``band`` ("lo-hi" or "lo+"), ``lo``, ``hi`` (None for the last),
        ``n_labels``, ``n_test_labels`` (labels with a test positive), ``positives_share``,
        ``R@k`` and ``top-k share`` for each k, and ``mAP`` when ``scores`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1, 0, 1], [0, 1, 0]])
    >>> ranked = np.array([[0, 1, 2], [0, 1, 2]])
    >>> rows = metrics_by_frequency_band(Y, ranked, np.array([50, 3, 3]), [1, 10], ks=(1,))
    >>> [(r["band"], r["R@1"], r["top-1 share"]) for r in rows]
    [('1-9', 0.0, 0.0), ('10+', 1.0, 1.0)]
    """
    Y = _check_y(Y_true)
    n, L = Y.shape
    counts = _check_label_vector(np.asarray(train_counts), L, "train_counts", positive=False)
    edges = np.asarray(edges)
    if (
        edges.ndim != 1
        or edges.size == 0
        or not np.issubdtype(edges.dtype, np.integer)
        or np.any(np.diff(edges) <= 0)
    ):
        raise ValueError(f"edges must be increasing integers, got {edges.tolist()}")
    ks = tuple(_check_k(k, "ks") for k in ks)
    if not ks:
        raise ValueError("ks must name at least one cut-off")
    width = min(max(ks), L)
    ranked = _check_ranked(ranked, n, L, width, "metrics_by_frequency_band")
    band_of = np.searchsorted(edges, counts, side="right") - 1  # -1: below the first edge
    n_bands = edges.size
    pos_band = band_of[Y.indices]
    pos_per_band = np.bincount(pos_band[pos_band >= 0], minlength=n_bands)
    n_pos = max(Y.nnz, 1)
    hits = _hits(Y, ranked)
    ap = None if scores is None else average_precision_per_label(Y, scores)
    test_labels = np.diff(Y.tocsc().indptr) > 0
    rows: list[dict[str, float | int]] = []
    for b in range(n_bands):
        lo, hi = int(edges[b]), (int(edges[b + 1]) if b + 1 < n_bands else None)
        in_band = band_of == b
        row: dict[str, float | int] = {
            "band": f"{lo}-{hi - 1}" if hi is not None else f"{lo}+",
            "lo": lo,
            "hi": hi,
            "n_labels": int(in_band.sum()),
            "n_test_labels": int((in_band & test_labels).sum()),
            "positives_share": float(pos_per_band[b] / n_pos),
        }
        for k in ks:
            slots = in_band[ranked[:, :k]]
            found = (hits[:, :k] & slots).sum()
            row[f"R@{k}"] = float(found / pos_per_band[b]) if pos_per_band[b] else math.nan
            row[f"top-{k} share"] = float(slots.mean()) if slots.size else math.nan
        if ap is not None:
            band_ap = ap[in_band & test_labels]
            row["mAP"] = float(band_ap.mean()) if band_ap.size else math.nan
        rows.append(row)
    return rows

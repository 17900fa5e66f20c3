"""Every metric at once, from one ranking and one hit matrix: what training and ``compare`` report."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from labelsphere.decode import topk
from labelsphere.metrics._inputs import (
    _check_k,
    _check_label_vector,
    _check_ranked,
    _check_scores,
    _check_y,
    _hits,
    _n_true,
)
from labelsphere.metrics._label_ap import _ap_per_label, _nanmean
from labelsphere.metrics._propensity import _psp
from labelsphere.metrics._ranking import _map, _ndcg, _precision, _recall


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

"""Calibrated label sets: per-label thresholds fitted on validation, one scale for every head.

Heads score on different scales (logits, scaled cosines, raw cosines), so a single cut-off
means nothing across them. ``LabelThresholds.fit(Y_val, scores_val)`` picks, for each label
with at least ``min_positives`` positives in the validation split, the score threshold that
maximises that label's F1 there; every other label (rare or unseen in validation) gets one
global threshold, the one that maximises the micro-F1 of all of them together. The
*calibrated score* of a label is then ``score - threshold``: positive means "in the set", the
same meaning whatever the head (documented scale: a margin in the head's own score units, not
a probability). ``labelsphere train`` fits thresholds on the validation split and saves them
with the model (``thresholds.safetensors``); ``predict --threshold calibrated`` and the server
return the set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.artifacts import FormatError, load_arrays, save_arrays

__all__ = ["THRESHOLDS_FILE", "LabelThresholds", "set_f1"]

THRESHOLDS_FILE = "thresholds.safetensors"


def _best_f1_cut(scores: np.ndarray, positive: np.ndarray, n_pos: int) -> tuple[float, float]:
    """The threshold on ``scores`` (n,) maximising F1 against ``positive`` (n,) bool, and the F1.

    A threshold t selects ``scores >= t``; candidates are midpoints between sorted scores.
    """
    order = np.argsort(-scores, kind="stable")
    s, hit = scores[order], positive[order]
    tp = np.cumsum(hit)
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + n_pos)
    # Only cut between distinct scores (a tie cannot be split by a threshold).
    last = np.r_[s[1:] != s[:-1], True]
    f1 = np.where(last, f1, -1.0)
    i = int(np.argmax(f1))
    t = float((s[i] + s[i + 1]) / 2) if i + 1 < len(s) else float(s[i] - 1e-6)
    return t, float(f1[i])


class LabelThresholds:
    """Per-label score thresholds (L,) with a global fallback.

    Parameters
    ----------
    min_positives : int, default=5
        Labels with fewer validation positives than this use the global threshold.

    Attributes
    ----------
    thresholds_ : ndarray of shape (L,), float32
    global_threshold_ : float
    per_label_ : ndarray of shape (L,), bool
        Which labels got their own threshold.

    Examples
    --------
    >>> Y = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [0, 0], [1, 1], [0, 0]]))
    >>> S = np.array([[2.0, 0.1], [1.5, 0.2], [0.1, 3.0], [0.2, 0.3], [1.8, 2.5], [0.0, 0.1]])
    >>> t = LabelThresholds(min_positives=2).fit(Y, S)
    >>> t.predict_sets(S).toarray().tolist() == Y.toarray().tolist()
    True
    """

    def __init__(self, min_positives: int = 5) -> None:
        self.min_positives = min_positives

    def fit(self, Y: sp.csr_matrix, scores: np.ndarray) -> LabelThresholds:
        """Fit on validation labels Y (n, L) and scores (n, L). Returns ``self``."""
        Y = sp.csc_matrix(Y)
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != Y.shape:
            raise ValueError(f"scores have shape {scores.shape}, labels {Y.shape}")
        if not np.isfinite(scores).all():
            raise ValueError("scores contain NaN or infinity")
        n, L = Y.shape
        n_pos = np.diff(Y.indptr)
        # The global threshold: micro-F1 over every (sample, label) pair.
        rows = sp.csr_matrix(Y)
        flat_pos = np.zeros(n * L, bool)
        flat_pos[rows.indices + np.repeat(np.arange(n) * L, np.diff(rows.indptr))] = True
        self.global_threshold_, _ = _best_f1_cut(scores.ravel(), flat_pos, int(n_pos.sum()))
        self.thresholds_ = np.full(L, self.global_threshold_, dtype=np.float32)
        self.per_label_ = n_pos >= max(1, self.min_positives)
        for j in np.flatnonzero(self.per_label_):
            positive = np.zeros(n, bool)
            positive[Y.indices[Y.indptr[j] : Y.indptr[j + 1]]] = True
            self.thresholds_[j], _ = _best_f1_cut(scores[:, j], positive, int(n_pos[j]))
        return self

    def margins(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated scores (n, L): ``score - threshold``; >= 0 means in the set."""
        return np.asarray(scores, dtype=np.float32) - self.thresholds_[None, :]

    def predict_sets(self, scores: np.ndarray) -> sp.csr_matrix:
        """The calibrated label sets as multi-hot CSR (n, L) int8."""
        return sp.csr_matrix((self.margins(scores) >= 0).astype(np.int8))

    def save(self, path: str | Path) -> None:
        save_arrays(
            Path(path),
            {"thresholds": self.thresholds_, "per_label": self.per_label_.astype(np.int8)},
            {
                "format": "labelsphere.LabelThresholds",
                "global_threshold": repr(float(self.global_threshold_)),
                "min_positives": str(self.min_positives),
            },
        )

    @classmethod
    def load(cls, path: str | Path, n_labels: int | None = None) -> LabelThresholds:
        from safetensors import safe_open

        path = Path(path)
        arrays = load_arrays(path)
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
        if meta.get("format") != "labelsphere.LabelThresholds" or "thresholds" not in arrays:
            raise FormatError(f"{path}: not a labelsphere thresholds file")
        try:
            out = cls(int(meta["min_positives"]))
            out.global_threshold_ = float(meta["global_threshold"])
        except (KeyError, ValueError):
            raise FormatError(f"{path}: missing or bad metadata") from None
        out.thresholds_ = arrays["thresholds"].astype(np.float32)
        out.per_label_ = arrays.get("per_label", np.ones(len(out.thresholds_))).astype(bool)
        if n_labels is not None and len(out.thresholds_) != n_labels:
            raise FormatError(
                f"{path}: {len(out.thresholds_)} thresholds for a model of {n_labels} labels"
            )
        return out


def set_f1(Y: sp.csr_matrix, sets: sp.csr_matrix) -> dict[str, float]:
    """Micro- and macro-F1 of predicted label sets against Y (both (n, L) multi-hot).

    Macro-F1 averages over the labels present in Y or predicted (a label absent from both has
    no F1).
    """
    Y, P = sp.csr_matrix(Y, dtype=np.int8), sp.csr_matrix(sets, dtype=np.int8)
    tp = np.asarray(Y.multiply(P).sum(axis=0)).ravel().astype(np.float64)
    n_true = np.asarray(Y.sum(axis=0)).ravel()
    n_pred = np.asarray(P.sum(axis=0)).ravel()
    denom = n_true + n_pred
    micro = 2 * tp.sum() / denom.sum() if denom.sum() else 0.0
    seen = denom > 0
    macro = float(np.mean(2 * tp[seen] / denom[seen])) if seen.any() else 0.0
    return {"micro-F1": float(micro), "macro-F1": macro}

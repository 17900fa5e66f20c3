"""Tests for labelsphere.metrics: hand-computed cases, agreement with scikit-learn, bad input."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, ndcg_score

from labelsphere.decode import topk
from labelsphere.metrics import (
    average_precision_per_label,
    evaluate,
    map_at_k,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    propensity_scores,
    psp_at_k,
    recall_at_k,
)

BIBTEX_FEATURES = 1836
BIBTEX_LABELS = 159


# ---------------------------------------------------------------------------- data
def _read_bibtex_test_labels(data_dir: Path) -> sp.csr_matrix:
    """Minimal reader for the label part of the sparse Mulan ARFF (labels = last 159 attributes)."""
    xml = (data_dir / "bibtex" / "bibtex.xml").read_text(encoding="utf-8")
    assert len(re.findall(r"<label\s", xml)) == BIBTEX_LABELS
    rows, cols = [], []
    n = 0
    in_data = False
    with open(data_dir / "bibtex" / "bibtex-test.arff", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            if not line or line.startswith("%"):
                continue
            assert line[0] == "{" and line[-1] == "}", line[:50]
            for item in line[1:-1].split(","):
                idx, val = item.split()
                j = int(idx) - BIBTEX_FEATURES
                if j >= 0 and float(val) != 0:
                    rows.append(n)
                    cols.append(j)
            n += 1
    return sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, BIBTEX_LABELS)
    )


@pytest.fixture(scope="module")
def bibtex_test(data_dir: Path) -> tuple[sp.csr_matrix, np.ndarray]:
    Y = _read_bibtex_test_labels(data_dir)
    assert Y.shape == (2515, BIBTEX_LABELS)
    rng = np.random.default_rng(0)
    S = Y.toarray() + rng.normal(scale=0.7, size=Y.shape)  # informative scores, no ties
    return Y, S


def _random_case(seed: int, n: int = 300, L: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, L)) < 0.1).astype(np.int8)
    Y[:5] = 0  # some samples without labels
    Y[:, :3] = 0  # some labels without positives
    S = rng.random((n, L))
    return Y, S


CASES = ["random0", "random1", "bibtex"]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    if request.param == "bibtex":
        Y, S = request.getfixturevalue("bibtex_test")
        return Y.toarray(), S
    return _random_case(int(request.param[-1]))


# ---------------------------------------------------------------------------- scikit-learn
def test_map_full_ranking_matches_sklearn_samples_ap(case):
    Y, S = case
    Y, S = Y[:800], S[:800]  # sklearn's per-sample loop is slow; 800 rows are plenty
    L = Y.shape[1]
    has = Y.sum(axis=1) > 0
    ranked, _ = topk(S, L)
    expected = average_precision_score(Y[has], S[has], average="samples")
    assert map_at_k(Y, ranked, k=L) == pytest.approx(expected, abs=1e-6)
    assert map_at_k(sp.csr_matrix(Y), ranked, k=L) == pytest.approx(expected, abs=1e-6)


def test_ap_per_label_matches_sklearn(case):
    Y, S = case
    has = Y.sum(axis=0) > 0
    ours = average_precision_per_label(Y, S)
    assert np.isnan(ours[~has]).all()
    expected = average_precision_score(Y[:, has], S[:, has], average=None)
    np.testing.assert_allclose(ours[has], expected, atol=1e-6, rtol=0)
    assert mean_average_precision(Y, S) == pytest.approx(expected.mean(), abs=1e-6)


def test_ap_per_label_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    Y = (rng.random((200, 12)) < 0.3).astype(np.int8)
    Y[:, 0] = 0
    S = rng.integers(0, 4, size=Y.shape).astype(np.float32)  # heavy ties
    S[:, 5] = 1.0  # one label with all scores tied
    ours = average_precision_per_label(sp.csr_matrix(Y), S)
    expected = average_precision_score(Y[:, 1:], S[:, 1:], average=None)
    np.testing.assert_allclose(ours[1:], expected, atol=1e-12, rtol=0)
    assert math.isnan(ours[0])


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_ndcg_matches_sklearn(case, k):
    Y, S = case
    has = Y.sum(axis=1) > 0
    ranked, _ = topk(S, k)
    expected = ndcg_score(Y[has], S[has], k=k)
    assert ndcg_at_k(Y, ranked, k) == pytest.approx(expected, abs=1e-6)


def test_bibtex_scores_are_sensible(bibtex_test):
    Y, S = bibtex_test
    res = evaluate(Y, S, ks=(1, 3, 5), map_k=100, propensities=propensity_scores(Y))
    for v in res.values():
        assert 0.0 < v <= 1.0
    ranked, _ = topk(S, 100)
    assert res["P@5"] == pytest.approx(precision_at_k(Y, ranked, 5))
    assert res["PSP@3"] == pytest.approx(psp_at_k(Y, ranked, 3, propensity_scores(Y)))
    # A perfect ranking (true labels first, rarest first so PSP is perfect too): every sample of
    # bibtex has a label, so P@1 = R@L = nDCG = MAP = PSP = 1.
    inv_p = 1 / propensity_scores(Y)
    perfect, _ = topk(Y.toarray() * (1 + inv_p) + 1e-3 * S, BIBTEX_LABELS)
    assert precision_at_k(Y, perfect, 1) == 1.0
    assert recall_at_k(Y, perfect, BIBTEX_LABELS) == 1.0
    assert ndcg_at_k(Y, perfect, 5) == pytest.approx(1.0)
    assert map_at_k(Y, perfect, 100) == pytest.approx(1.0)
    assert psp_at_k(Y, perfect, 5, propensity_scores(Y)) == pytest.approx(1.0)


# ---------------------------------------------------------------------------- by hand
# Row 0: true {0, 2}, ranked 0, 1, 2 -> hits 1, 0, 1
# Row 1: true {1},    ranked 3, 1, 0 -> hits 0, 1, 0
# Row 2: no true label.
Y_HAND = np.array([[1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
R_HAND = np.array([[0, 1, 2], [3, 1, 0], [4, 3, 2]])
LOG2_3 = math.log2(3)


def test_precision_by_hand():
    # Row 2 (no labels) counts as 0 and stays in the denominator.
    assert precision_at_k(Y_HAND, R_HAND, 1) == pytest.approx(1 / 3)
    assert precision_at_k(Y_HAND, R_HAND, 2) == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert precision_at_k(Y_HAND, R_HAND, 3) == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)


def test_recall_by_hand():
    # Only rows 0 and 1 have labels.
    assert recall_at_k(Y_HAND, R_HAND, 1) == pytest.approx((1 / 2 + 0) / 2)
    assert recall_at_k(Y_HAND, R_HAND, 2) == pytest.approx((1 / 2 + 1) / 2)
    assert recall_at_k(Y_HAND, R_HAND, 3) == pytest.approx(1.0)


def test_ndcg_by_hand():
    assert ndcg_at_k(Y_HAND, R_HAND, 1) == pytest.approx((1 + 0) / 2)
    row0 = (1 + 1 / 2) / (1 + 1 / LOG2_3)  # hits at ranks 1 and 3; ideal: ranks 1 and 2
    row1 = (1 / LOG2_3) / 1  # hit at rank 2; ideal: one label at rank 1
    assert ndcg_at_k(Y_HAND, R_HAND, 3) == pytest.approx((row0 + row1) / 2)


def test_map_by_hand():
    # k=3: row 0 AP = (P@1 + P@3) / min(3, 2) = (1 + 2/3) / 2; row 1 AP = P@2 / 1 = 1/2.
    assert map_at_k(Y_HAND, R_HAND, 3) == pytest.approx(((1 + 2 / 3) / 2 + 1 / 2) / 2)
    # k=1: row 0 normalised by min(1, 2) = 1, not by |true| = 2.
    assert map_at_k(Y_HAND, R_HAND, 1) == pytest.approx((1 + 0) / 2)
    # k=2: row 0 = P@1 / min(2, 2); row 1 = P@2 / 1.
    assert map_at_k(Y_HAND, R_HAND, 2) == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_weighted_map_by_hand():
    w = np.array([1.0, 2.0, 3.0, 0.0, 0.0])
    # k=3: row 0 = (w0 * P@1 + w2 * P@3) / (w0 + w2) = (1 + 3 * 2/3) / 4; row 1 = 2 * 1/2 / 2.
    assert map_at_k(Y_HAND, R_HAND, 3, label_weights=w) == pytest.approx((3 / 4 + 1 / 2) / 2)
    # k=1: row 0 normaliser = the largest single weight among {1, 3} = 3; row 1 = 0 / 2.
    assert map_at_k(Y_HAND, R_HAND, 1, label_weights=w) == pytest.approx((1 / 3 + 0) / 2)
    # All-ones weights give the unweighted value.
    ones = np.ones(5)
    for k in (1, 2, 3):
        assert map_at_k(Y_HAND, R_HAND, k, label_weights=ones) == pytest.approx(
            map_at_k(Y_HAND, R_HAND, k)
        )
    # Row 1's only label has weight 0: its normaliser is 0 and it is left out.
    w0 = np.array([1.0, 0.0, 3.0, 0.0, 0.0])
    assert map_at_k(Y_HAND, R_HAND, 3, label_weights=w0) == pytest.approx(3 / 4)


def test_propensities_by_hand():
    # N = 10 samples; label counts 10, 1, 0.
    Y = np.zeros((10, 3), dtype=np.int8)
    Y[:, 0] = 1
    Y[0, 1] = 1
    p = propensity_scores(Y)
    A, B, N = 0.55, 1.5, 10
    C = (math.log(N) - 1) * (B + 1) ** A
    assert p[0] == pytest.approx(1 / (1 + C * (10 + B) ** -A), rel=1e-12)
    assert p[0] == pytest.approx(0.6399, abs=1e-4)  # C = 2.1562, 11.5^-0.55 = 0.26097
    # A label seen once: C * (1 + B)^-A = log N - 1, so p = 1 / log N.
    assert p[1] == pytest.approx(1 / math.log(10), rel=1e-12)
    assert p[2] == pytest.approx(1 / (1 + C * B**-A), rel=1e-12)  # unseen label
    assert p[2] < p[1] < p[0] < 1
    # Other A, B; and sparse input.
    p2 = propensity_scores(sp.csr_matrix(Y), A=0.6, B=2.6)
    C2 = (math.log(N) - 1) * 3.6**0.6
    assert p2[1] == pytest.approx(1 / (1 + C2 * 3.6**-0.6), rel=1e-12)


def test_psp_by_hand():
    p = np.array([0.5, 0.25, 1.0, 1.0, 1.0])  # 1/p = 2, 4, 1, 1, 1
    # k=1: hits: row 0 label 0 (2); den: row 0 max(2, 1) = 2, row 1 max(4) = 4.
    assert psp_at_k(Y_HAND, R_HAND, 1, p) == pytest.approx(2 / 6)
    # k=2: num: row 0 label 0 (2), row 1 label 1 (4); den: row 0 2 + 1, row 1 4.
    assert psp_at_k(Y_HAND, R_HAND, 2, p) == pytest.approx(6 / 7)
    # k=3: everything found.
    assert psp_at_k(Y_HAND, R_HAND, 3, p) == pytest.approx(1.0)


def test_ap_per_label_by_hand():
    Y = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    S = np.array([[0.9, 0.5, 0.1], [0.8, 0.5, 0.1], [0.3, 0.5, 0.1], [0.1, 0.5, 0.1]])
    ap = average_precision_per_label(Y, S)
    assert ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert ap[1] == pytest.approx(1 / 4)  # all tied: precision of the whole group
    assert math.isnan(ap[2])
    assert mean_average_precision(Y, S) == pytest.approx(((1 + 2 / 3) / 2 + 1 / 4) / 2)


# ---------------------------------------------------------------------------- evaluate
def test_evaluate_keys_and_consistency():
    Y, S = _random_case(7)
    p = propensity_scores(Y)
    res = evaluate(sp.csr_matrix(Y), S, ks=(1, 3, 5), propensities=p)
    assert list(res) == [
        "P@1", "P@3", "P@5", "R@1", "R@3", "R@5", "nDCG@1", "nDCG@3", "nDCG@5",
        "PSP@1", "PSP@3", "PSP@5", "MAP@100", "mAP",
    ]  # fmt: skip
    ranked, _ = topk(S, 100)
    for k in (1, 3, 5):
        assert res[f"P@{k}"] == precision_at_k(Y, ranked, k)
        assert res[f"R@{k}"] == recall_at_k(Y, ranked, k)
        assert res[f"nDCG@{k}"] == ndcg_at_k(Y, ranked, k)
        assert res[f"PSP@{k}"] == psp_at_k(Y, ranked, k, p)
    assert res["MAP@100"] == map_at_k(Y, ranked, 100)
    assert res["mAP"] == mean_average_precision(Y, S)
    # Ranking only: same ranking metrics, no mAP.
    res2 = evaluate(Y, ranked=ranked, ks=(1, 3, 5))
    assert "mAP" not in res2 and "PSP@1" not in res2
    assert all(res2[key] == res[key] for key in res2)
    # map_k=None skips MAP, so a narrow ranking is enough.
    res3 = evaluate(Y, ranked=ranked[:, :5], map_k=None)
    assert set(res3) == {"P@1", "P@3", "P@5", "R@1", "R@3", "R@5", "nDCG@1", "nDCG@3", "nDCG@5"}


def test_k_larger_than_n_labels():
    # L = 3 < k = 5: a ranking of all 3 labels is enough; P@5 still divides by 5.
    Y = np.array([[1, 0, 1], [0, 1, 0]])
    S = np.array([[0.9, 0.1, 0.5], [0.1, 0.3, 0.6]])
    res = evaluate(Y, S, ks=(5,))
    assert res["P@5"] == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert res["R@5"] == 1.0
    assert res["MAP@100"] == pytest.approx((1 + 1 / 2) / 2)


def test_no_positive_samples_give_nan():
    Y = np.zeros((3, 4), dtype=np.int8)
    R = np.tile(np.arange(4), (3, 1))
    assert precision_at_k(Y, R, 2) == 0.0
    assert math.isnan(recall_at_k(Y, R, 2))
    assert math.isnan(ndcg_at_k(Y, R, 2))
    assert math.isnan(map_at_k(Y, R, 2))
    assert math.isnan(psp_at_k(Y, R, 2, np.ones(4)))
    assert math.isnan(mean_average_precision(Y, np.ones((3, 4))))


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [precision_at_k, recall_at_k, ndcg_at_k, map_at_k])
def test_bad_ranked(fn):
    with pytest.raises(ValueError, match="rows"):
        fn(Y_HAND, R_HAND[:2], 2)
    with pytest.raises(ValueError, match="columns"):
        fn(Y_HAND, R_HAND, 4)  # k = 4 <= L = 5 but ranked is only 3 wide
    with pytest.raises(ValueError, match=r"not a label index in \[0, 5\)"):
        fn(Y_HAND, np.array([[0, 1, 5], [3, 1, 0], [4, 3, 2]]), 3)
    with pytest.raises(ValueError, match="not a label index"):
        fn(Y_HAND, np.array([[0, 1, 2], [3, -1, 0], [4, 3, 2]]), 3)
    with pytest.raises(ValueError, match="more than once"):
        fn(Y_HAND, np.array([[0, 1, 0], [3, 1, 0], [4, 3, 2]]), 3)
    with pytest.raises(ValueError, match="integer"):
        fn(Y_HAND, R_HAND.astype(float), 2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        fn(Y_HAND, R_HAND, 0)
    with pytest.raises(ValueError, match="binary"):
        fn(Y_HAND * 2, R_HAND, 1)


def test_bad_shapes():
    Y, S = _random_case(1, n=20, L=6)
    with pytest.raises(ValueError, match="shape"):
        average_precision_per_label(Y, S[:, :5])
    with pytest.raises(ValueError, match="shape"):
        evaluate(Y, S[:10])
    with pytest.raises(ValueError, match="NaN"):
        average_precision_per_label(Y, np.where(S > 0.5, np.nan, S))
    with pytest.raises(ValueError, match="dense"):
        mean_average_precision(Y, sp.csr_matrix(S))
    with pytest.raises(ValueError, match="label_weights must have shape"):
        map_at_k(Y_HAND, R_HAND, 3, label_weights=np.ones(4))
    with pytest.raises(ValueError, match=">= 0"):
        map_at_k(Y_HAND, R_HAND, 3, label_weights=-np.ones(5))
    with pytest.raises(ValueError, match="propensities must have shape"):
        psp_at_k(Y_HAND, R_HAND, 3, np.ones(6))
    with pytest.raises(ValueError, match="> 0"):
        psp_at_k(Y_HAND, R_HAND, 3, np.zeros(5))
    with pytest.raises(ValueError, match="needs scores, ranked"):
        evaluate(Y)
    with pytest.raises(ValueError, match="columns"):
        evaluate(Y_HAND, ranked=R_HAND, ks=(1,), map_k=100)  # MAP@100 needs all 5 labels
    with pytest.raises(ValueError, match="at least 3"):
        propensity_scores(np.ones((2, 3)))


# ---------------------------------------------------------------------------- frequency bands
def test_bands_match_a_loop_over_bibtex_pairs(bibtex_test, data_dir):
    from labelsphere.data import load_dataset
    from labelsphere.metrics import metrics_by_frequency_band

    Y, S = bibtex_test
    counts = np.asarray(load_dataset("bibtex", "train", data_dir).Y.sum(axis=0)).ravel()
    edges = [0, 30, 60, 120, 300]
    ranked, _ = topk(S, 10)
    rows = metrics_by_frequency_band(Y, ranked, counts, edges, ks=(1, 10), scores=S)
    assert [r["band"] for r in rows] == ["0-29", "30-59", "60-119", "120-299", "300+"]
    Yd = Y.toarray()
    band = np.searchsorted(edges, counts, side="right") - 1
    for b, row in enumerate(rows):
        assert row["n_labels"] == int((band == b).sum())
        for k in (1, 10):
            found = total = slots = 0
            for i in range(Yd.shape[0]):
                for j in np.flatnonzero(Yd[i]):
                    if band[j] == b:
                        total += 1
                        found += int(j in ranked[i, :k])
                slots += int(sum(band[j] == b for j in ranked[i, :k]))
            assert row[f"R@{k}"] == pytest.approx(found / total)
            assert row[f"top-{k} share"] == pytest.approx(slots / (k * Yd.shape[0]))
        cols = [j for j in np.flatnonzero(band == b) if Yd[:, j].any()]
        assert row["n_test_labels"] == len(cols)
        want = np.mean([average_precision_score(Yd[:, j], S[:, j]) for j in cols])
        assert row["mAP"] == pytest.approx(want)
    # With every label in a band, the bands add up to the whole.
    share = np.array([r["positives_share"] for r in rows])
    assert share.sum() == pytest.approx(1.0)
    assert sum(r["top-10 share"] for r in rows) == pytest.approx(1.0)
    micro = sum(s * r["R@10"] for s, r in zip(share, rows, strict=True))
    hits = sum(int(np.isin(ranked[i], np.flatnonzero(Yd[i])).sum()) for i in range(len(Yd)))
    assert micro == pytest.approx(hits / Yd.sum())


def test_bands_reject_bad_edges_counts_and_rankings():
    from labelsphere.metrics import metrics_by_frequency_band

    Y = np.array([[1, 0, 1], [0, 1, 0]])
    R = np.array([[0, 1, 2], [0, 1, 2]])
    c = np.array([5, 1, 1])
    with pytest.raises(ValueError, match="edges must be increasing"):
        metrics_by_frequency_band(Y, R, c, [10, 5])
    with pytest.raises(ValueError, match="edges must be increasing integers"):
        metrics_by_frequency_band(Y, R, c, [0.5, 2.5])
    with pytest.raises(ValueError, match="train_counts must have shape"):
        metrics_by_frequency_band(Y, R, c[:2], [1])
    with pytest.raises(ValueError, match="needs the top 3 labels"):
        metrics_by_frequency_band(Y, R[:, :2], c, [1], ks=(3,))
    with pytest.raises(ValueError, match="ks must be >= 1"):
        metrics_by_frequency_band(Y, R, c, [1], ks=(0,))
    # Labels below the first edge are in no band; a band without test pairs has NaN recall.
    (row,) = metrics_by_frequency_band(Y, R, c, [2], ks=(1,))
    assert row["n_labels"] == 1 and row["positives_share"] == pytest.approx(1 / 3)
    (row,) = metrics_by_frequency_band(np.array([[0, 1, 0]]), R[:1], c, [2], ks=(1,))
    assert math.isnan(row["R@1"]) and row["top-1 share"] == 1.0

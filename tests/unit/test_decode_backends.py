"""Decoding backends on seeded random keys (no real data): the exact blocked GEMM path against
brute force, LabelIndex's FAISS backends against exact, and the input checks."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from labelsphere.decode import (
    DEFAULT_BLOCK_BYTES,
    LabelIndex,
    recall_at_k,
    topk,
    topk_similar,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

L, D, N = 5000, 32, 64


def _quantised(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Gaussian values rounded to multiples of 1/16: every inner product of D of them is exact
    in float32 (and many tie), so brute force and blocked GEMM must agree bit for bit."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return (np.clip(np.round(x * 16), -40, 40) / 16).astype(np.float32)


def _brute_force(q: np.ndarray, keys: np.ndarray, k: int, bias=None):
    """Full argsort of the float64 scores by (-score, index)."""
    s = q.astype(np.float64) @ keys.astype(np.float64).T
    if bias is not None:
        s += bias
    order = np.lexsort((np.broadcast_to(np.arange(keys.shape[0]), s.shape), -s), axis=1)[:, :k]
    return order, np.take_along_axis(s, order, axis=1)


@pytest.fixture(scope="module")
def qkeys():
    return _quantised((N, D), 1), _quantised((L, D), 0)


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(7)
    keys = rng.standard_normal((L, D)).astype(np.float32)
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    q = rng.standard_normal((200, D)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q, keys


# ---------------------------------------------------------------------- exact fast path
@pytest.mark.parametrize("k", [1, 10, 100, L])
@pytest.mark.parametrize(
    "block_bytes",
    [DEFAULT_BLOCK_BYTES, 4 * 16 * 700, 4 * 50],  # one block; row and label blocks; < one row
)
def test_exact_matches_brute_force(qkeys, k, block_bytes):
    q, keys = qkeys
    if k == L and block_bytes != DEFAULT_BLOCK_BYTES:
        q = q[:8]  # k = L with tiny blocks: every query keeps all L candidates; stay small
    idx, scores = topk_similar(q, keys, k, block_bytes=block_bytes)
    ref_idx, ref_scores = _brute_force(q, keys, k)
    assert idx.dtype == np.int64 and scores.dtype == np.float32
    assert idx.shape == (len(q), k)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(scores, ref_scores.astype(np.float32))


def test_exact_ties_go_to_the_lower_index():
    keys = np.zeros((3000, 4), np.float32)
    keys[::3, 0] = 1.0  # labels 0, 3, 6, ... score 1 for the first query, the others 0
    q = np.array([[1.0, 0, 0, 0], [0, 0, 0, 0]], np.float32)  # the second: all scores 0
    for block_bytes in (DEFAULT_BLOCK_BYTES, 4 * 2 * 700, 4):  # one block; 5 chunks; 6
        idx, scores = topk_similar(q, keys, 5, block_bytes=block_bytes)
        np.testing.assert_array_equal(idx[0], [0, 3, 6, 9, 12])
        np.testing.assert_array_equal(idx[1], [0, 1, 2, 3, 4])
        np.testing.assert_array_equal(scores[1], 0)
        # the k-th and (k+1)-th scores tie at the cut: the lower indices make it
        idx, scores = topk_similar(q, keys, 1002, block_bytes=block_bytes)
        np.testing.assert_array_equal(idx[0], [*range(0, 3000, 3), 1, 2])
        np.testing.assert_array_equal(idx[1], np.arange(1002))
        assert scores[0, 999] == 1 and scores[0, 1000] == 0


def test_exact_bias_and_topk_agree(qkeys):
    q, keys = qkeys
    bias = (np.arange(L) % 7 / 8).astype(np.float32)
    idx, scores = topk_similar(q, keys, 20, bias=bias, block_bytes=4 * 32 * 900)
    ref_idx, ref_scores = _brute_force(q, keys, 20, bias)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-5)
    # topk on the full score matrix ranks the same way
    np.testing.assert_array_equal(topk(q @ keys.T + bias, 20)[0], ref_idx)


def test_exact_float_scores_match_numpy(gaussian):
    """Unquantised inputs: scores equal numpy's float32 product up to rounding, same order."""
    q, keys = gaussian
    idx, scores = topk_similar(q, keys, 50, block_bytes=4 * 64 * 1000)
    ref_idx, ref_scores = _brute_force(q, keys, 50)
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-5)
    assert np.all(scores[:, :-1] >= scores[:, 1:])
    assert np.mean(idx == ref_idx) > 0.999  # at most a float32 near-tie swapped


def test_exact_clips_k_and_takes_no_queries(qkeys):
    q, keys = qkeys
    assert topk_similar(q[:2], keys[:30], 100)[0].shape == (2, 30)
    idx, scores = topk_similar(q[:0], keys, 10)
    assert idx.shape == (0, 10) and scores.shape == (0, 10)


# ---------------------------------------------------------------------- LabelIndex
def test_label_index_exact_equals_topk_similar(qkeys):
    q, keys = qkeys
    index = LabelIndex(backend="exact", device="cpu", block_bytes=4 * 64 * 1000).fit(keys)
    assert (index.n_labels_, index.n_features_in_, index.device_) == (L, D, "cpu")
    idx, scores = index.search(q, 100)
    ref_idx, ref_scores = topk_similar(q, keys, 100)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(scores, ref_scores)


def test_faiss_flat_equals_exact(gaussian):
    pytest.importorskip("faiss")
    q, keys = gaussian
    exact_idx, exact_scores = LabelIndex("exact", device="cpu").fit(keys).search(q, 10)
    idx, scores = LabelIndex("faiss-flat", device="cpu").fit(keys).search(q, 10)
    assert idx.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(idx, exact_idx)
    np.testing.assert_allclose(scores, exact_scores, rtol=0, atol=1e-5)
    assert recall_at_k(idx, exact_idx) == 1.0


@pytest.mark.parametrize(
    "backend, params",
    [("faiss-hnsw", {"M": 32, "ef_search": 128}), ("faiss-ivf", {"nlist": 64, "nprobe": 32})],
)
def test_approximate_backends_recall(gaussian, backend, params):
    pytest.importorskip("faiss")
    q, keys = gaussian
    exact_idx, _ = topk_similar(q, keys, 10)
    index = LabelIndex(backend, device="cpu", **params).fit(keys)
    idx, scores = index.search(q, 10)
    assert idx.shape == (len(q), 10) and idx.dtype == np.int64
    assert recall_at_k(idx, exact_idx) >= 0.9
    found = idx >= 0
    assert np.all(np.diff(np.where(found, scores, -np.inf), axis=1) <= 1e-6)  # best first
    if backend == "faiss-ivf":
        assert index.nlist_ == 64


def test_ivf_default_nlist(gaussian):
    pytest.importorskip("faiss")
    _, keys = gaussian
    assert LabelIndex("faiss-ivf", device="cpu").fit(keys).nlist_ == L // 39


def test_params_are_stored_unchanged():
    index = LabelIndex("faiss-hnsw", M=8, ef_search=7, nlist=None)
    assert (index.backend, index.M, index.ef_search, index.nlist) == ("faiss-hnsw", 8, 7, None)
    assert not hasattr(index, "index_")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LabelIndex("annoy").fit(np.ones((5, 2))), "backend must be one of"),
        (lambda: LabelIndex(M=0).fit(np.ones((5, 2))), "M must be a positive int"),
        (lambda: LabelIndex(nlist=0).fit(np.ones((5, 2))), "nlist must be"),
        (lambda: LabelIndex(device="tpu").fit(np.ones((5, 2))), "device must be"),
        (lambda: LabelIndex().fit(np.ones(5)), "keys must be a 2-D array"),
        (lambda: LabelIndex().fit(np.ones((0, 3))), "at least one row"),
        (lambda: LabelIndex().fit(np.array([[1.0, np.nan]])), "keys contain NaN"),
        (lambda: LabelIndex().fit(np.array([["a", "b"]])), "must be numeric"),
        (lambda: _fitted().search(np.ones((2, 3)), 0), "k must be a positive int"),
        (lambda: _fitted().search(np.ones((2, 3)), 6), "k=6 is larger than the number of labels"),
        (lambda: _fitted().search(np.ones((2, 4)), 2), "queries have 4 columns.*d=3"),
        (lambda: _fitted().search(np.ones(3), 2), "queries must be a 2-D array"),
        (lambda: _fitted().search(np.array([[np.inf, 0, 0]]), 2), "queries contain NaN"),
        (lambda: LabelIndex().search(np.ones((2, 3)), 2), "not fitted"),
        (lambda: topk_similar(np.ones((2, 3)), np.ones((5, 4)), 2), "must share d"),
        (lambda: topk_similar(np.ones((2, 3)), np.ones((5, 3)), 0), "k must be >= 1"),
    ],
)
def test_bad_inputs_raise(make, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        make()


def _fitted() -> LabelIndex:
    return LabelIndex(device="cpu").fit(np.eye(5, 3, dtype=np.float32))


def test_ivf_nlist_larger_than_keys():
    pytest.importorskip("faiss")
    with pytest.raises(ValueError, match="nlist=10 is larger than the number of keys"):
        LabelIndex("faiss-ivf", nlist=10, device="cpu").fit(np.eye(5, 3, dtype=np.float32))


def test_missing_faiss_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` now raises ImportError
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        LabelIndex("faiss-flat").fit(np.eye(5, 3, dtype=np.float32))


def test_recall_at_k():
    exact = np.array([[0, 1, 2], [3, 4, 5]])
    assert recall_at_k(exact, exact) == 1.0
    assert recall_at_k(np.array([[2, 9, -1], [5, 4, 3]]), exact) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="same n"):
        recall_at_k(exact[:1], exact)

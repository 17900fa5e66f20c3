"""CooccurrenceCounter: exact, batch-invariant, mergeable counts on real label data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labelsphere.artifacts import FormatError
from labelsphere.counting.cooccurrence import CooccurrenceCounter
from labelsphere.data import load_dataset


@pytest.fixture(scope="module")
def delicious(data_dir):
    return load_dataset("delicious", split="train", data_dir=data_dir)


def _assert_same(a: CooccurrenceCounter, b: CooccurrenceCounter) -> None:
    assert a.n_samples_ == b.n_samples_
    assert np.array_equal(a.label_counts_, b.label_counts_)
    diff = a.pair_counts() - b.pair_counts()
    assert diff.nnz == 0 or not np.any(diff.data)


def test_counts_match_dense_product(delicious):
    Y = delicious.Y
    c = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y)
    dense = Y.astype(np.int64).T @ Y.astype(np.int64)
    assert np.array_equal(c.pair_counts().toarray(), dense.toarray())
    assert np.array_equal(c.label_counts_, np.asarray(Y.sum(axis=0)).ravel())
    assert c.n_samples_ == Y.shape[0]
    # Sparse storage: only co-occurring pairs of the upper triangle.
    assert c.n_pairs_ == sp.triu(dense).nnz


def test_one_batch_equals_many_batches_and_merged_shards(delicious):
    Y = delicious.Y
    one = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y)
    many = CooccurrenceCounter(n_labels=Y.shape[1])
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, Y.shape[0]), size=40, replace=False))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, Y.shape[0]], strict=True):
        many.update(Y[a:b])
    _assert_same(one, many)
    shards = [CooccurrenceCounter(n_labels=Y.shape[1]).update(Y[i::3]) for i in range(3)]
    merged = shards[0].merge(shards[1]).merge(shards[2])
    _assert_same(one, merged)


def test_names_and_index_lists(data_dir):
    ds = load_dataset("bibtex", split="train", data_dir=data_dir)
    by_matrix = CooccurrenceCounter(vocabulary=ds.vocabulary).update(ds.Y)
    by_names = CooccurrenceCounter(vocabulary=ds.vocabulary).update(ds.labels())
    by_index = CooccurrenceCounter(n_labels=ds.Y.shape[1]).update(
        [list(ds.Y.indices[ds.Y.indptr[i] : ds.Y.indptr[i + 1]]) for i in range(ds.Y.shape[0])]
    )
    _assert_same(by_matrix, by_names)
    _assert_same(by_matrix, by_index)


def test_save_load_round_trip_and_corruption(tmp_path, delicious):
    c = CooccurrenceCounter(vocabulary=delicious.vocabulary).update(delicious.Y)
    path = tmp_path / "counts.safetensors"
    c.save(path)
    again = CooccurrenceCounter.load(path)
    _assert_same(c, again)
    assert again.vocabulary == delicious.vocabulary
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FormatError, match=r"counts\.safetensors"):
        CooccurrenceCounter.load(path)


def test_bad_batches(delicious):
    c = CooccurrenceCounter(n_labels=delicious.Y.shape[1])
    with pytest.raises(ValueError, match="983"):
        c.update(delicious.Y[:, :10])
    with pytest.raises(ValueError, match="binary"):
        c.update(delicious.Y[:5] * 2)
    with pytest.raises(TypeError, match="vocabulary"):
        c.update([["TAG_web"]])
    with pytest.raises(ValueError, match="cannot merge"):
        c.merge(CooccurrenceCounter(n_labels=3))
    assert c.n_samples_ == 0  # nothing half-added by the failed calls


def test_block_counting_is_exact_and_compact(delicious, monkeypatch):
    """Counting label block by label block (issue 10) gives the same counts for any block size,
    stored with int32 indices and int64 counts."""
    import labelsphere.counting.cooccurrence as cooc

    Y = delicious.Y
    one = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y)
    monkeypatch.setattr(cooc, "_BLOCK_FLOPS", 1000)  # hundreds of blocks
    small = CooccurrenceCounter(n_labels=Y.shape[1]).update(Y, progress=False)
    _assert_same(one, small)
    upper = small.pair_counts(full=False)
    assert upper.indices.dtype == np.int32 and upper.indptr.dtype == np.int32
    assert upper.data.dtype == np.int64


def test_float32_pmi_matches_float64(delicious):
    from labelsphere.embedding import pmi_matrix

    c = CooccurrenceCounter(n_labels=delicious.Y.shape[1]).update(delicious.Y)
    for pmi in ("zero", "smoothed"):
        S64, off64 = pmi_matrix(c, pmi=pmi, diagonal="self_information")
        S32, off32 = pmi_matrix(c, pmi=pmi, diagonal="self_information", dtype=np.float32)
        assert S32.dtype == np.float32 and off32 == off64
        np.testing.assert_allclose(S32.toarray(), S64.toarray(), rtol=1e-6, atol=1e-6)

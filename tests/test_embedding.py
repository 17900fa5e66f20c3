"""LabelEmbedding on real label data: encode/decode, the oracle test, solvers, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from labelsphere import CooccurrenceCounter, LabelEmbedding
from labelsphere.artifacts import FormatError
from labelsphere.data import load_dataset
from labelsphere.decode import topk, topk_similar
from labelsphere.metrics import precision_at_k


@pytest.fixture(scope="module")
def bibtex(data_dir):
    return (
        load_dataset("bibtex", split="train", data_dir=data_dir),
        load_dataset("bibtex", split="test", data_dir=data_dir),
    )


@pytest.fixture(scope="module")
def bibtex_emb(bibtex):
    train, _ = bibtex
    return LabelEmbedding(n_components=128, random_state=0).fit(
        train.Y, vocabulary=train.vocabulary
    )


def test_encode_rows_are_unit_norm_and_empty_rows_zero(bibtex, bibtex_emb):
    _, test = bibtex
    T = bibtex_emb.encode(test.Y)
    assert T.shape == (test.Y.shape[0], bibtex_emb.n_components_) and T.dtype == np.float32
    assert np.all(np.isfinite(T))
    np.testing.assert_allclose(np.linalg.norm(T, axis=1), 1.0, atol=1e-5)
    empty = bibtex_emb.encode(np.zeros((2, test.Y.shape[1]), dtype=np.int8))
    assert np.array_equal(empty, np.zeros_like(empty))


def test_oracle_precision_on_bibtex(bibtex, bibtex_emb):
    _, test = bibtex
    idx, _ = bibtex_emb.decode(bibtex_emb.encode(test.Y), k=5)
    assert precision_at_k(test.Y, idx, 1) >= 0.99


def test_fit_on_names_equals_fit_on_matrix(bibtex):
    train, _ = bibtex
    a = LabelEmbedding(n_components=32, random_state=0).fit(train.Y, vocabulary=train.vocabulary)
    b = LabelEmbedding(n_components=32, random_state=0).fit(
        train.labels(), vocabulary=train.vocabulary
    )
    np.testing.assert_allclose(a.embeddings_, b.embeddings_, atol=1e-5)


def test_fit_counts_from_merged_shards_equals_fit(bibtex):
    train, _ = bibtex
    shards = [CooccurrenceCounter(n_labels=159).update(train.Y[i::2]) for i in range(2)]
    a = LabelEmbedding(n_components=32).fit_counts(shards[0].merge(shards[1]))
    b = LabelEmbedding(n_components=32).fit(train.Y)
    np.testing.assert_allclose(a.embeddings_, b.embeddings_, atol=1e-5)


@pytest.mark.parametrize(
    ("pmi", "factorization"), [("zero", "eigh"), ("zero", "svd"), ("smoothed", "eigh")]
)
def test_randomized_and_arpack_agree_with_dense(data_dir, pmi, factorization):
    train = load_dataset("delicious", split="train", data_dir=data_dir)
    test = load_dataset("delicious", split="test", data_dir=data_dir)
    kw = dict(n_components=64, pmi=pmi, factorization=factorization, random_state=0)
    dense = LabelEmbedding(solver="dense", **kw).fit(train.Y)
    p1 = {}
    for solver in ("dense", "randomized", "arpack"):
        # The randomized solver converges to the exact eigenpairs with enough power iterations.
        extra = {"n_iter": 6} if solver == "randomized" else {}
        est = (
            dense
            if solver == "dense"
            else LabelEmbedding(solver=solver, **kw, **extra).fit(train.Y)
        )
        assert est.solver_ == solver
        # Leading eigenvalues agree to 1% of the largest.
        np.testing.assert_allclose(
            est.eigenvalues_[:16], dense.eigenvalues_[:16], atol=1e-2 * abs(dense.eigenvalues_[0])
        )
        idx, _ = est.decode(est.encode(test.Y), k=1)
        p1[solver] = precision_at_k(test.Y, idx, 1)
    assert abs(p1["randomized"] - p1["dense"]) < 0.01 and abs(p1["arpack"] - p1["dense"]) < 0.01


def test_embedding_reconstructs_pmi(bibtex):
    from labelsphere.embedding import pmi_matrix

    train, _ = bibtex
    counts = CooccurrenceCounter(n_labels=159).update(train.Y)
    S, _offset = pmi_matrix(counts, diagonal="self_information")
    M = S.toarray()
    err = [
        np.linalg.norm(M - E @ E.T) / np.linalg.norm(M)
        for E in (
            LabelEmbedding(n_components=d, diagonal="self_information", factorization="eigh")
            .fit(train.Y)
            .embeddings_
            for d in (16, 64, 150)
        )
    ]
    assert err[0] > err[1] > err[2]  # more components, closer to PMI


def test_decode_matches_full_ranking_with_small_blocks(bibtex, bibtex_emb):
    _, test = bibtex
    d = bibtex_emb.n_components_
    V = bibtex_emb.encode(test.Y[:300])
    V += np.random.default_rng(0).normal(0, 0.1, (300, d)).astype(np.float32)
    full_idx, _ = topk(bibtex_emb.scores(V), 10)
    idx, _scores = bibtex_emb.decode(V, k=10, block_bytes=4 * 40 * 7)  # forces label and row blocks
    assert np.array_equal(idx, full_idx)
    E = bibtex_emb.embeddings_
    keys = E / np.linalg.norm(E, axis=1, keepdims=True) if bibtex_emb.similarity == "cosine" else E
    idx2, _ = topk_similar(V, keys, 10)
    assert np.array_equal(idx2, full_idx)


def test_cosine_similarity_decoding(bibtex):
    train, test = bibtex
    est = LabelEmbedding(n_components=64, similarity="cosine").fit(train.Y)
    assert est.similarity == "cosine"
    _idx, scores = est.decode(est.encode(test.Y), k=3)
    assert np.all(scores <= 1.0 + 1e-5)


def test_similar_labels_are_related(bibtex_emb):
    names = [n for n, _ in bibtex_emb.similar("TAG_immunosensor", k=5)]
    assert "TAG_immunosensor" not in names and len(names) == 5
    related = {"TAG_immunoelectrode", "TAG_immunoassay", "TAG_electrochemistry", "TAG_amperometry"}
    assert len(related & set(names)) >= 3
    assert bibtex_emb.similar(3, k=2)[0][0] != 3 or bibtex_emb.vocabulary_ is None


def test_save_load_identical_decodes(tmp_path, bibtex, bibtex_emb):
    _, test = bibtex
    bibtex_emb.save(tmp_path / "emb")
    again = LabelEmbedding.load(tmp_path / "emb")
    V = bibtex_emb.encode(test.Y)
    a, sa = bibtex_emb.decode(V, k=10)
    b, sb = again.decode(V, k=10)
    assert np.array_equal(a, b) and np.array_equal(sa, sb)
    assert again.get_params() == bibtex_emb.get_params()
    assert again.vocabulary_ == bibtex_emb.vocabulary_


def test_load_rejects_version_mismatch_and_corruption(tmp_path, bibtex_emb):
    d = tmp_path / "emb"
    bibtex_emb.save(d)
    meta = json.loads((d / "embedding.json").read_text())
    meta["format_version"] = 99
    (d / "embedding.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="format_version 99"):
        LabelEmbedding.load(d)
    bibtex_emb.save(d)
    data = (d / "embedding.safetensors").read_bytes()
    (d / "embedding.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"embedding\.safetensors"):
        LabelEmbedding.load(d)
    (d / "embedding.json").write_text("{")
    with pytest.raises(FormatError, match=r"embedding\.json"):
        LabelEmbedding.load(d)


def test_bad_input(bibtex):
    train, _ = bibtex
    with pytest.raises(ValueError, match="smaller than the number of labels"):
        LabelEmbedding(n_components=159).fit(train.Y)
    with pytest.raises(ValueError, match="'pmi' parameter"):
        LabelEmbedding(n_components=8, pmi="clip").fit(train.Y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="binary"):
        LabelEmbedding(n_components=8).fit(train.Y * 3)
    with pytest.raises(ValueError, match="binary"):
        LabelEmbedding(n_components=8).fit(-train.Y)
    est = LabelEmbedding(n_components=8).fit(train.Y, vocabulary=train.vocabulary)
    with pytest.raises(ValueError, match="159"):
        est.encode(train.Y[:, :20])
    with pytest.raises(KeyError, match="TAG_nope"):
        est.encode([["TAG_nope"]])
    with pytest.raises(ValueError, match=r"\(n, 8\)"):
        est.decode(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        est.decode(np.full((1, 8), np.nan))
    with pytest.raises(NotFittedError, match="not fitted"):
        LabelEmbedding().encode(train.Y)


def test_decode_through_an_index_equals_the_exact_search(data_dir):
    train = load_dataset("bibtex", split="train", data_dir=data_dir)
    est = LabelEmbedding(n_components=32, random_state=0).fit(train.Y)
    Q = est.encode(train.Y[:200])
    want_i, want_s = est.decode(Q, k=10)
    for backend in ("exact", "faiss-flat"):
        got_i, got_s = est.decode(Q, k=10, backend=backend)
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_allclose(got_s, want_s, rtol=1e-5, atol=1e-6)

"""TextFeaturizer on a handful of inline sentences: the fast tier, no real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from labelsphere.artifacts import FormatError
from labelsphere.text import TextFeaturizer

TEXTS = [
    "A red apple fell from the tree.",
    "The green apple is sour; the red one is sweet.",
    "Red cars are fast, green cars are slow.",
    "",  # an empty document: an all-zero row
    "Zoë's café sells apple pie and coffee.",
    "the the the tree",
]
NEW = ["a red tree", "unseen words only", "Apple! APPLE? apple."]

KINDS = [
    {},
    {"ngram_range": (1, 2), "sublinear_tf": True, "min_df": 1, "max_features": 12},
    {"use_idf": False, "norm": "l1"},
    {"analyzer": "char_wb", "ngram_range": (2, 3), "strip_accents": "unicode"},
    {"kind": "hashing", "n_features": 64},
    {"kind": "hashing", "n_features": 2**12, "ngram_range": (1, 2), "sublinear_tf": True},
    {"kind": "hashing", "use_idf": False, "lowercase": False},
]


def assert_same_csr(A: sp.csr_matrix, B: sp.csr_matrix) -> None:
    assert A.shape == B.shape and A.dtype == B.dtype == np.float32
    assert np.array_equal(A.indptr, B.indptr)
    assert np.array_equal(A.indices, B.indices)
    assert np.array_equal(A.data, B.data)


@pytest.mark.parametrize("params", KINDS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_fit_transform_save_load(tmp_path, params):
    f = TextFeaturizer(**params)
    assert f.get_params()["ngram_range"] == params.get("ngram_range", (1, 1))  # stored unchanged
    assert not any(k.endswith("_") for k in vars(f))
    X = f.fit_transform(TEXTS)
    assert isinstance(X, sp.csr_matrix) and X.has_sorted_indices
    assert X.shape == (len(TEXTS), f.n_features_)
    assert_same_csr(X, f.transform(TEXTS))  # fit_transform == fit + transform, exactly
    assert X[3].nnz == 0  # the empty text
    norm = params.get("norm", "l2")
    rows = np.flatnonzero(np.diff(X.indptr))
    if norm == "l2":
        np.testing.assert_allclose(sp.linalg.norm(X[rows], axis=1), 1.0, rtol=1e-6)
    elif norm == "l1":
        np.testing.assert_allclose(abs(X[rows]).sum(axis=1).A1, 1.0, rtol=1e-6)
    assert (X.data > 0).all()
    if params.get("kind") == "hashing":
        assert f.vocabulary_ is None and f.n_features_ == params.get("n_features", 2**20)
    else:
        assert f.n_features_ == len(f.vocabulary_) == len(f.get_feature_names_out())
    assert (f.idf_ is None) == (params.get("use_idf") is False)

    f.save(tmp_path)
    meta = json.loads((tmp_path / "text_featurizer.json").read_text())
    assert meta["format"] == "labelsphere.TextFeaturizer" and meta["format_version"] == 1
    assert (tmp_path / "text_featurizer.safetensors").is_file()
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob(".*.tmp"))
    g = TextFeaturizer.load(tmp_path)
    assert g.get_params() == f.get_params() and g.n_features_ == f.n_features_
    assert g.vocabulary_ == f.vocabulary_
    if f.idf_ is not None:
        assert g.idf_.dtype == f.idf_.dtype and np.array_equal(g.idf_, f.idf_)
    for texts in (TEXTS, NEW):
        assert_same_csr(g.transform(texts), f.transform(texts))


def test_tfidf_is_sklearns():
    """The tfidf kind is scikit-learn's TfidfVectorizer, in float32."""
    f = TextFeaturizer(ngram_range=(1, 2), sublinear_tf=True).fit(TEXTS)
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(TEXTS)
    assert f.vocabulary_ == ref.vocabulary_
    np.testing.assert_allclose(f.transform(NEW).toarray(), ref.transform(NEW).toarray(), rtol=1e-6)


def test_knobs_and_params():
    assert TextFeaturizer(max_features=3).fit(TEXTS).n_features_ == 3
    assert TextFeaturizer(min_df=2).fit(TEXTS).vocabulary_.keys() >= {"apple", "red"}
    assert "tree" not in TextFeaturizer(min_df=3).fit(TEXTS).vocabulary_
    assert "the" not in TextFeaturizer(max_df=0.4).fit(TEXTS).vocabulary_
    assert "Apple" in TextFeaturizer(lowercase=False).fit(NEW).vocabulary_
    assert TextFeaturizer(kind="hashing").fit(TEXTS).n_features_ == 2**20
    f = TextFeaturizer(kind="hashing", n_features=32)
    assert clone(f).get_params() == f.get_params()
    with pytest.raises(ValueError, match="kind must be one of"):
        TextFeaturizer(kind="bert").fit(TEXTS)
    with pytest.raises(ValueError, match="max_features applies to kind='tfidf' only"):
        TextFeaturizer(kind="hashing", max_features=10).fit(TEXTS)
    with pytest.raises(ValueError, match="min_df applies to kind='tfidf' only"):
        TextFeaturizer(kind="hashing", min_df=2).fit(TEXTS)
    with pytest.raises(ValueError, match="n_features applies to kind='hashing' only"):
        TextFeaturizer(n_features=100).fit(TEXTS)
    with pytest.raises(ValueError, match="n_features must be a positive integer"):
        TextFeaturizer(kind="hashing", n_features=0).fit(TEXTS)


def test_bad_inputs():
    f = TextFeaturizer()
    with pytest.raises(NotFittedError):
        f.transform(TEXTS)
    with pytest.raises(ValueError, match="sample 2 is int"):
        f.fit(["a", "b", 3])
    with pytest.raises(ValueError, match="sample 1 is NoneType"):
        f.fit_transform(["a", None])
    with pytest.raises(ValueError, match="sample 0 is bytes"):
        f.fit([b"bytes"])
    with pytest.raises(ValueError, match="single str"):
        f.fit("one string is not a list of texts")
    with pytest.raises(ValueError, match="no texts"):
        f.fit([])
    f.fit(TEXTS)
    with pytest.raises(ValueError, match="sample 1 is float"):
        f.transform(["ok", float("nan")])
    with pytest.raises(ValueError, match="list of strings, got int"):
        f.transform(5)
    # numpy string arrays and generators are fine; no texts give no rows
    assert f.transform(np.array(NEW)).shape == (3, f.n_features_)
    assert f.transform(t for t in NEW).shape == (3, f.n_features_)
    assert f.transform([]).shape == (0, f.n_features_)


def test_load_rejects_other_versions_and_corrupt_files(tmp_path):
    TextFeaturizer().fit(TEXTS).save(tmp_path)
    meta_path = tmp_path / "text_featurizer.json"
    good = json.loads(meta_path.read_text())

    def load_with(**changes):
        meta_path.write_text(json.dumps({**good, **changes}))
        return TextFeaturizer.load(tmp_path)

    with pytest.raises(FormatError, match="format_version 2 is not supported"):
        load_with(format_version=2)
    with pytest.raises(FormatError, match="expected format"):
        load_with(format="labelsphere.LabelEmbedding")
    with pytest.raises(FormatError, match="vocabulary"):
        load_with(vocabulary=good["vocabulary"][:-1])
    with pytest.raises(FormatError, match="vocabulary"):
        load_with(vocabulary=[good["vocabulary"][0]] * len(good["vocabulary"]))
    with pytest.raises(FormatError, match="invalid field"):
        load_with(params={**good["params"], "kind": "bert"})
    with pytest.raises(FormatError, match="invalid field"):
        load_with(params={**good["params"], "colour": "red"})
    with pytest.raises(FormatError, match="idf"):
        load_with(n_features=good["n_features"] + 1, vocabulary=[*good["vocabulary"], "zzz"])
    meta_path.write_text("{not json")
    with pytest.raises(FormatError, match="not valid JSON"):
        TextFeaturizer.load(tmp_path)
    meta_path.unlink()
    with pytest.raises(FormatError, match="file not found"):
        TextFeaturizer.load(tmp_path)
    # a corrupt idf file
    TextFeaturizer().fit(TEXTS).save(tmp_path)
    (tmp_path / "text_featurizer.safetensors").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="safetensors"):
        TextFeaturizer.load(tmp_path)

"""LabelVocabulary and check_multihot, on real label lists."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labelsphere.data import load_dataset
from labelsphere.labels import LabelVocabulary, UnknownLabelError, check_multihot


@pytest.fixture(scope="module")
def debian_lists(data_dir):
    ds = load_dataset("debian-depends", split="all", data_dir=data_dir)
    return ds.labels()


def test_from_lists_orders_by_count_and_applies_min_count(debian_lists):
    vocab = LabelVocabulary.from_lists(debian_lists, min_count=5)
    counts = vocab.counts
    assert counts is not None and np.all(np.diff(counts) <= 0)
    assert counts.min() >= 5
    # README: 7,058 dependencies are used at least 5 times.
    assert len(vocab) == 7058
    assert vocab.names[0] == "libc6"


def test_encode_decode_round_trip_on_real_lists(debian_lists):
    vocab = LabelVocabulary.from_lists(debian_lists)
    Y = vocab.encode(debian_lists[:2000])
    assert Y.shape == (2000, len(vocab)) and Y.dtype == np.int8
    back = vocab.decode(Y)
    assert [sorted(set(r)) for r in back] == [sorted(set(r)) for r in debian_lists[:2000]]


def test_unknown_policy(debian_lists):
    vocab = LabelVocabulary.from_lists(debian_lists, min_count=5)
    rare = next(n for r in debian_lists for n in r if n not in vocab)
    with pytest.raises(UnknownLabelError, match=rare.replace("+", r"\+")):
        vocab.encode([["libc6", rare]])
    Y = vocab.encode([["libc6", rare], [rare]], unknown="ignore")
    assert Y.sum() == 1 and vocab.n_unknown_ == 2
    with pytest.raises(ValueError, match="unknown must be"):
        vocab.encode([["libc6"]], unknown="skip")  # type: ignore[arg-type]


def test_vocabulary_save_load(tmp_path, debian_lists):
    vocab = LabelVocabulary.from_lists(debian_lists, min_count=5)
    vocab.save(tmp_path / "v.json")
    again = LabelVocabulary.load(tmp_path / "v.json")
    assert again == vocab and np.array_equal(again.counts, vocab.counts)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json"):
        LabelVocabulary.load(tmp_path / "bad.json")


def test_bad_names():
    with pytest.raises(ValueError, match="duplicate label name 'a'"):
        LabelVocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="position 1"):
        LabelVocabulary(["a", ""])
    with pytest.raises(TypeError, match="bare string"):
        LabelVocabulary.from_lists(["abc"])


def test_check_multihot_rejects_bad_values():
    with pytest.raises(ValueError, match="row 1, column 2 holds 2"):
        check_multihot(np.array([[0, 1, 0], [0, 0, 2]]))
    with pytest.raises(ValueError, match="binary"):
        check_multihot(sp.csr_matrix(np.array([[0, -1]])))
    with pytest.raises(ValueError, match="2-D"):
        check_multihot(np.array([0, 1]))
    with pytest.raises(ValueError, match="outside"):
        check_multihot([[0, 5]], n_labels=3)
    with pytest.raises(ValueError, match="expected 4"):
        check_multihot(np.eye(3, dtype=int), n_labels=4)

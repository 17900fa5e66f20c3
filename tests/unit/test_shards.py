"""Label shards: reading JSONL / CSV / gzip / Parquet, streaming counts, checkpoints, errors.

No real data: tiny shards written to tmp_path.
"""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest
import scipy.sparse as sp

from labelsphere import CooccurrenceCounter, LabelEmbedding, LabelVocabulary
from labelsphere.counting import count_shards
from labelsphere.data.dataset import DataFormatError
from labelsphere.data.readers import iter_label_shards


def _samples(n: int = 300, L: int = 40, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, L + 1)
    pop /= pop.sum()
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 6))  # some samples have no labels
        out.append([f"tag{j}" for j in rng.choice(L, size=k, p=pop)])  # repeats allowed
    return out


def _write_jsonl(path, rows, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": len(r), "labels": r}) + "\n")


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item", "labels"])
        for i, r in enumerate(rows):
            w.writerow([f"x{i}", "|".join(r)])


def _write_parquet(path, rows, row_group_size=37):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"labels": rows}), path, row_group_size=row_group_size)


@pytest.fixture
def shards(tmp_path):
    """The same 300 samples in four shards of four formats, and the samples themselves."""
    rows = _samples()
    parts = [rows[:70], rows[70:150], rows[150:220], rows[220:]]
    paths = [
        tmp_path / "a.jsonl",
        tmp_path / "b.csv",
        tmp_path / "c.jsonl.gz",
        tmp_path / "d.parquet",
    ]
    _write_jsonl(paths[0], parts[0])
    _write_csv(paths[1], parts[1])
    _write_jsonl(paths[2], parts[2], gz=True)
    _write_parquet(paths[3], parts[3])
    return paths, rows


def _assert_same(a: CooccurrenceCounter, b: CooccurrenceCounter) -> None:
    assert a.n_labels == b.n_labels and a.n_samples_ == b.n_samples_
    assert np.array_equal(a.label_counts_, b.label_counts_)
    pa, pb = a.pair_counts(full=False), b.pair_counts(full=False)
    assert pa.dtype == pb.dtype == np.int64
    assert (pa != pb).nnz == 0


def test_reader_yields_every_sample_in_order_and_in_batches(shards):
    paths, rows = shards
    batches = list(iter_label_shards(paths, batch_size=64))
    assert [len(b) for b in batches] == [64, 64, 64, 64, 44]
    assert [r for b in batches for r in b] == rows


def test_directory_and_joined_strings(tmp_path):
    (tmp_path / "notes.txt").write_text("ignored")
    with open(tmp_path / "s.jsonl", "w") as f:
        f.write(json.dumps({"tags": " a | b |"}) + "\n\n" + json.dumps({"tags": ["c", " "]}) + "\n")
    assert list(iter_label_shards(tmp_path, field="tags")) == [[["a", "b"], ["c"]]]


def test_counts_equal_counting_everything_at_once(shards):
    paths, rows = shards
    vocab = LabelVocabulary.from_lists(rows)
    at_once = CooccurrenceCounter(vocabulary=vocab).update(vocab.encode(rows))
    # Given the vocabulary, and with a grown one (reordered to from_lists's order at the end).
    for v in (vocab, None):
        c = count_shards(paths, vocabulary=v, batch_size=16, progress=False)
        assert c.vocabulary == vocab
        _assert_same(c, at_once)
        assert c.samples_per_second_ > 0 and c.seconds_ >= 0
    # Batch size does not matter, bit for bit.
    _assert_same(count_shards(paths, batch_size=1000, progress=False), at_once)


def test_min_count_drops_labels_exactly(shards):
    paths, rows = shards
    vocab = LabelVocabulary.from_lists(rows, min_count=5)
    expected = CooccurrenceCounter(vocabulary=vocab).update(vocab.encode(rows, unknown="ignore"))
    _assert_same(count_shards(paths, min_count=5, progress=False), expected)
    full = LabelVocabulary.from_lists(rows)
    given = count_shards(paths, vocabulary=full, min_count=5, progress=False)
    assert given.vocabulary.names == [n for n in full.names if n in vocab]
    _assert_same(given, expected)


def test_saved_midway_and_merged_equals_one_pass(tmp_path, shards):
    paths, rows = shards
    vocab = LabelVocabulary.from_lists(rows)
    whole = count_shards(paths, vocabulary=vocab, progress=False)
    first = count_shards(paths[:2], vocabulary=vocab, progress=False)
    first.save(tmp_path / "half.safetensors")
    rest = count_shards(paths[2:], vocabulary=vocab, batch_size=7, progress=False)
    merged = CooccurrenceCounter.load(tmp_path / "half.safetensors").merge(rest)
    _assert_same(merged, whole)
    # Two workers' counters merged also fit the same embedding.
    a = LabelEmbedding(n_components=8, random_state=0).fit_counts(merged)
    b = LabelEmbedding(n_components=8, random_state=0).fit_counts(whole)
    np.testing.assert_array_equal(a.embeddings_, b.embeddings_)


def test_checkpoint_resumes(tmp_path, shards):
    paths, _rows = shards
    ckpt = tmp_path / "ckpt.safetensors"
    whole = count_shards(paths, progress=False)
    count_shards(paths[:3], checkpoint=ckpt, progress=False)  # "interrupted" after three files
    assert json.loads((tmp_path / "ckpt.safetensors.json").read_text())["files"][2]["samples"] == 70
    assert CooccurrenceCounter.load(ckpt).n_samples_ == 220  # an ordinary saved counter
    resumed = count_shards(paths, checkpoint=ckpt, progress=False)
    assert resumed.samples_per_second_ > 0
    _assert_same(resumed, whole)


def test_many_batches_equal_one_batch_bit_for_bit():
    rng = np.random.default_rng(1)
    Y = sp.random(2000, 300, density=0.02, format="csr", random_state=rng)
    Y.data[:] = 1
    Y = Y.astype(np.int8)
    one = CooccurrenceCounter(n_labels=300).update(Y)
    many = CooccurrenceCounter(n_labels=300)
    for a in range(0, 2000, 37):
        many.update(Y[a : a + 37])
    _assert_same(one, many)
    dense = Y.astype(np.int64).T @ Y.astype(np.int64)
    assert np.array_equal(one.pair_counts().toarray(), dense.toarray())
    assert one.pair_counts(full=False).indices.dtype == np.int32


@pytest.mark.parametrize(
    ("name", "content", "line", "match"),
    [
        ("bad.jsonl", '{"labels": ["a"]}\n{"labels": ["a", 3]}\n', 2, "list of strings"),
        ("bad2.jsonl", '{"labels": ["a"]}\n\n{"tags": []}\n', 3, "missing keys"),
        ("bad3.jsonl", '{"labels": ["a"]}\nnot json\n', 2, "JSON object"),
        ("bad.csv", "id,labels\n1,a|b\n2,a,extra\n", 3, "fields"),
        ("nolabels.csv", "id,tags\n1,a\n", 1, "labels"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, name, content, line, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataFormatError, match=match) as err:
        count_shards([path], progress=False)
    assert err.value.path == str(path) and err.value.line == line
    assert f"{name}, line {line}" in str(err.value)


def test_malformed_gzip_and_parquet(tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"labels": ["a"]}\n{"labels": "a|b"}\n{"labels": {"x": 1}}\n')
    with pytest.raises(DataFormatError, match=r"bad\.jsonl\.gz, line 3"):
        list(iter_label_shards(path))
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"labels": [["a"], None, ["b"]]}), tmp_path / "n.parquet")
    with pytest.raises(DataFormatError, match=r"n\.parquet, line 2"):
        list(iter_label_shards(tmp_path / "n.parquet"))
    pq.write_table(pa.table({"labels": [1, 2]}), tmp_path / "i.parquet")
    with pytest.raises(DataFormatError, match=r"i\.parquet: column 'labels'"):
        list(iter_label_shards(tmp_path / "i.parquet"))
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataFormatError, match=r"x\.parquet"):
        list(iter_label_shards(tmp_path / "x.parquet"))
    (tmp_path / "n.parquet.gz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"expected a \.jsonl"):
        list(iter_label_shards(tmp_path / "n.parquet.gz"))

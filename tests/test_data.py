"""labelsphere.data: readers and dataset loaders, on the real shared datasets.

Round trips write small files in ``tmp_path`` built from the real data; malformed-file tests
corrupt such files and check that the error names the file and the line.
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from labelsphere.data import (
    DATASETS,
    DataFormatError,
    MultiLabelDataset,
    get_data_dir,
    load_dataset,
    read_features,
    read_items,
    read_mulan,
    read_xc,
    read_yolo,
    write_items,
)
from labelsphere.labels import LabelVocabulary, UnknownLabelError


# ---------------------------------------------------------------------- helpers and fixtures
def assert_names_line(exc: pytest.ExceptionInfo, path: Path, line: int) -> None:
    msg = str(exc.value)
    assert path.name in msg, msg
    assert re.search(rf"\bline {line}\b", msg), msg
    assert exc.value.line == line


@pytest.fixture(scope="module")
def delicious(data_dir):
    return load_dataset("delicious", split="train", data_dir=data_dir)


@pytest.fixture(scope="module")
def bibtex(data_dir):
    return load_dataset("bibtex", split="train", data_dir=data_dir)


@pytest.fixture(scope="module")
def small_bibtex(bibtex):
    """The first 50 rows of bibtex train, with row 3's labels removed (a label-less sample)."""
    ds = bibtex.subset(np.arange(50))
    Y = ds.Y.tolil()
    Y[3, :] = 0
    return MultiLabelDataset(
        X=ds.X, Y=Y.tocsr(), vocabulary=ds.vocabulary, name="small", info=ds.info
    )


# ---------------------------------------------------------------------- data directory
def test_get_data_dir_precedence(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("LABELSPHERE_DATA", str(data_dir))
    assert get_data_dir() == data_dir
    assert get_data_dir(tmp_path) == tmp_path
    monkeypatch.delenv("LABELSPHERE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LABELSPHERE_DATA") as e:
        get_data_dir()
    assert "labelsphere_data" in str(e.value)
    (tmp_path / "labelsphere_data").mkdir()
    assert get_data_dir() == tmp_path / "labelsphere_data"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_data_dir(tmp_path / "nope")


def test_unknown_dataset_split_and_option(data_dir):
    with pytest.raises(ValueError, match="bibtex") as e:
        load_dataset("no-such-data", data_dir=data_dir)
    assert "coco128" in str(e.value)
    with pytest.raises(ValueError, match=r"\['train', 'test'\]"):
        load_dataset("bibtex", split="val", data_dir=data_dir)
    with pytest.raises(ValueError, match=r"\['all'\]"):
        load_dataset("debian-depends", split="train", data_dir=data_dir)
    with pytest.raises(TypeError, match="min_count"):
        load_dataset("bibtex", data_dir=data_dir, min_count=3)
    assert set(DATASETS) == {
        "delicious",
        "bibtex",
        "corel5k",
        "nus-wide-81-labels",
        "debian-depends",
        "movie-posters",
        "tabler-icons",
        "coco128",
        "iconify-icons",
    }


# ---------------------------------------------------------------------- Mulan datasets
def test_delicious(delicious, data_dir):
    ds = delicious
    assert len(ds) == 12920
    assert sp.issparse(ds.X) and ds.X.shape == (12920, 500) and ds.X.dtype == np.float32
    assert ds.Y.shape == (12920, 983) and ds.Y.dtype == np.int8
    assert ds.cardinality == pytest.approx(19.0, abs=0.1)
    # The escaped quote is undone the same way in the ARFF and in the XML.
    assert "TAG_m'usica" in ds.vocabulary
    assert not any("\\" in n for n in ds.vocabulary.names)
    assert ds.Y[:, ds.vocabulary.index("TAG_m'usica")].nnz > 0
    assert ds.vocabulary.names[0] == "TAG_.imported"  # XML order
    test = load_dataset("delicious", split="test", data_dir=data_dir)
    assert len(test) == 3185 and test.X.shape[1] == 500
    assert test.vocabulary == ds.vocabulary


def test_bibtex_and_corel5k(bibtex, data_dir):
    assert bibtex.X.shape == (4880, 1836) and bibtex.n_labels == 159
    assert bibtex.cardinality == pytest.approx(2.4, abs=0.05)
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    assert test.X.shape == (2515, 1836) and test.vocabulary == bibtex.vocabulary
    corel = load_dataset("corel5k", split="train", data_dir=data_dir)
    corel_test = load_dataset("corel5k", split="test", data_dir=data_dir)
    assert corel.X.shape == (4500, 499) and corel_test.X.shape == (500, 499)
    assert corel.n_labels == corel_test.n_labels == 374
    assert corel.vocabulary == corel_test.vocabulary
    assert corel.cardinality == pytest.approx(3.5, abs=0.05)


def test_mulan_matches_a_plain_reading_of_the_first_rows(data_dir, bibtex):
    """Check the parser against a direct, slow reading of the first sparse rows."""
    path = data_dir / "bibtex" / "bibtex-train.arff"
    lines = path.read_text().splitlines()
    start = next(i for i, s in enumerate(lines) if s.lower().startswith("@data")) + 1
    n_feat = 1836
    for r in range(5):
        entries = [e.split() for e in lines[start + r].strip("{}").split(",")]
        cols = sorted(int(j) for j, v in entries if float(v) != 0)
        feats = [j for j in cols if j < n_feat]
        labs = [j - n_feat for j in cols if j >= n_feat]
        assert bibtex.X[r].indices.tolist() == feats
        assert bibtex.Y[r].indices.tolist() == labs


def _write_dense_arff(path: Path, ds: MultiLabelDataset, quote: bool) -> None:
    """Dense ARFF with the label attributes FIRST and (optionally) quoted, escaped names."""

    def attr_name(n: str) -> str:
        return (
            "'" + n.replace("\\", "\\\\").replace("'", "\\'") + "'"
            if quote
            else n.replace("'", "\\'")
        )

    X = ds.X.toarray()
    Y = ds.Y.toarray()
    lines = ["% written by test_data", "@relation 'dense test'", ""]
    lines += [f"@attribute {attr_name(n)} {{0,1}}" for n in ds.vocabulary.names]
    lines += [f"@attribute {attr_name(n)} numeric" for n in ds.info["feature_names"]]
    lines += ["", "@data"]
    for y, x in zip(Y, X, strict=True):
        lines.append(",".join([str(v) for v in y] + [f"{v:g}" for v in x]))
    path.write_text("\n".join(lines) + "\n")


def _write_xml(path: Path, names: list[str]) -> None:
    body = "".join(
        f'<label name="{n.replace("&", "&amp;").replace(chr(34), "&quot;")}"></label>\n'
        for n in names
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<labels xmlns="http://mulan.sourceforge.net/labels">\n{body}</labels>\n'
    )


@pytest.mark.parametrize("quote", [True, False])
def test_mulan_dense_rows_labels_first_and_quoted_names(tmp_path, data_dir, delicious, quote):
    small = delicious.subset(np.arange(40))
    arff, xml = tmp_path / "d.arff", tmp_path / "d.xml"
    _write_dense_arff(arff, small, quote=quote)
    # The XML carries the escaped form, as Mulan's delicious.xml does.
    _write_xml(xml, [n.replace("'", "\\'") for n in small.vocabulary.names])
    ds = read_mulan(arff, xml)
    assert isinstance(ds.X, np.ndarray) and ds.X.dtype == np.float32
    np.testing.assert_array_equal(ds.X, small.X.toarray())
    assert ds.vocabulary == small.vocabulary
    assert (ds.Y != small.Y).nnz == 0
    assert ds.info["relation"] == "dense test"


def test_mulan_with_a_given_vocabulary(data_dir, bibtex):
    reversed_vocab = LabelVocabulary(bibtex.vocabulary.names[::-1])
    d = data_dir / "bibtex"
    ds = read_mulan(d / "bibtex-test.arff", d / "bibtex.xml", vocabulary=reversed_vocab)
    ref = load_dataset("bibtex", split="test", data_dir=data_dir)
    assert ds.vocabulary is reversed_vocab
    assert ds.labels() == [row[::-1] for row in ref.labels()]
    # A vocabulary lacking used labels: error by default, dropped with unknown="ignore".
    partial = LabelVocabulary(bibtex.vocabulary.names[:10])
    with pytest.raises(UnknownLabelError):
        read_mulan(d / "bibtex-test.arff", d / "bibtex.xml", vocabulary=partial)
    ds = read_mulan(d / "bibtex-test.arff", d / "bibtex.xml", vocabulary=partial, unknown="ignore")
    assert ds.Y.shape == (2515, 10)
    assert (ds.Y != ref.Y[:, :10]).nnz == 0


def _small_sparse_arff(tmp_path: Path, data_dir: Path, n_rows: int = 20) -> tuple[Path, Path, int]:
    """The header and first rows of corel5k train; returns (arff, xml, line of first row)."""
    src = (data_dir / "corel5k" / "Corel5k-train-sparse.arff").read_text().splitlines()
    start = next(i for i, s in enumerate(src) if s.lower().startswith("@data")) + 1
    arff = tmp_path / "small.arff"
    arff.write_text("\n".join(src[: start + n_rows]) + "\n")
    xml = tmp_path / "small.xml"
    xml.write_bytes((data_dir / "corel5k" / "Corel5k.xml").read_bytes())
    return arff, xml, start + 1


def _replace_line(path: Path, lineno: int, new: str) -> None:
    lines = path.read_text().split("\n")
    lines[lineno - 1] = new
    path.write_text("\n".join(lines))


def test_mulan_malformed_rows(tmp_path, data_dir):
    arff, xml, first = _small_sparse_arff(tmp_path, data_dir)
    assert len(read_mulan(arff, xml)) == 20
    good = arff.read_text()
    row = good.split("\n")[first + 4 - 1]
    cases = {
        "truncated": row[: len(row) // 2],  # a cut-off sparse row (no closing brace)
        "bad entry": "{3 1,oops 1,502 1}",
        "no value": "{3 1,17,502 1}",
        "out of range": "{3 1,9999 1}",
        "label not 0/1": "{3 1,502 7}",
        "dense wrong count": "0,1,0",
    }
    for what, bad in cases.items():
        arff.write_text(good)
        _replace_line(arff, first + 4, bad)
        with pytest.raises(DataFormatError) as e:
            read_mulan(arff, xml)
        assert_names_line(e, arff, first + 4)
        assert isinstance(e.value, ValueError), what
    arff.write_text(good.replace("@attribute Cluster7 {0,1}", "@attribute Cluster7 string"))
    with pytest.raises(DataFormatError, match="Cluster7") as e:
        read_mulan(arff, xml)
    assert_names_line(e, arff, 9)
    arff.write_text(good.replace("@data", ""))
    with pytest.raises(DataFormatError, match="@data"):
        read_mulan(arff, xml)


def test_mulan_bad_xml(tmp_path, data_dir):
    arff, xml, _ = _small_sparse_arff(tmp_path, data_dir)
    text = xml.read_text()
    xml.write_text(text.replace('<label name="city"></label>', '<label name="city"></labl>'))
    with pytest.raises(DataFormatError, match="XML") as e:
        read_mulan(arff, xml)
    assert "small.xml" in str(e.value) and e.value.line is not None
    xml.write_text(text.replace('name="city"', 'name="no-such-attribute"'))
    with pytest.raises(DataFormatError, match="no-such-attribute"):
        read_mulan(arff, xml)
    xml.write_text('<?xml version="1.0"?>\n<!DOCTYPE labels [<!ENTITY a "b">]>\n' + text)
    with pytest.raises(DataFormatError, match="DTD") as e:
        read_mulan(arff, xml)
    assert e.value.line == 2


# ---------------------------------------------------------------------- XC format
def _write_xc(path: Path, ds: MultiLabelDataset) -> None:
    X, Y = ds.X.tocsr(), ds.Y
    lines = [f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}"]
    for i in range(X.shape[0]):
        labs = ",".join(str(j) for j in Y[i].indices)
        feats = " ".join(f"{j}:{v:g}" for j, v in zip(X[i].indices, X[i].data, strict=True))
        lines.append(f"{labs} {feats}")
    path.write_text("\n".join(lines) + "\n")


def test_read_xc_round_trip(tmp_path, small_bibtex):
    path = tmp_path / "bibtex_small.txt"
    _write_xc(path, small_bibtex)
    assert path.read_text().split("\n")[4].startswith(" ")  # row 3 has no labels
    ds = read_xc(path)
    assert ds.X.shape == (50, 1836) and ds.Y.shape == (50, 159)
    assert ds.vocabulary.names[:3] == ["0", "1", "2"]
    assert (ds.X != small_bibtex.X).nnz == 0
    assert (ds.Y != small_bibtex.Y).nnz == 0
    assert ds.Y[3].nnz == 0


def test_read_xc_malformed(tmp_path, small_bibtex):
    path = tmp_path / "bad.txt"
    _write_xc(path, small_bibtex)
    good = path.read_text()
    for bad in ["1,2 5:1 oops", "1,x 5:1", "1 99999:1", "9999 5:1"]:
        path.write_text(good)
        _replace_line(path, 7, bad)
        with pytest.raises(DataFormatError) as e:
            read_xc(path)
        assert_names_line(e, path, 7)
    path.write_text("\n".join(good.split("\n")[:30]) + "\n")  # truncated: 29 of 50 rows
    with pytest.raises(DataFormatError, match="announces 50 samples but the file has 29"):
        read_xc(path)
    path.write_text("50 1836\n")
    with pytest.raises(DataFormatError, match="header") as e:
        read_xc(path)
    assert_names_line(e, path, 1)


# ---------------------------------------------------------------------- features + label lines
@pytest.mark.parametrize("sparse", [True, False])
def test_read_features_round_trip(tmp_path, small_bibtex, sparse):
    if sparse:
        fpath = tmp_path / "X.npz"
        sp.save_npz(fpath, small_bibtex.X)
    else:
        fpath = tmp_path / "X.npy"
        np.save(fpath, small_bibtex.X.toarray())
    lpath = tmp_path / "labels.txt"
    lpath.write_text("\n".join(",".join(r) for r in small_bibtex.labels()) + "\n")
    assert lpath.read_text().split("\n")[3] == ""  # the label-less sample
    ds = read_features(fpath, lpath, vocabulary=small_bibtex.vocabulary)
    assert sp.issparse(ds.X) == sparse
    X = ds.X.toarray() if sparse else ds.X
    np.testing.assert_array_equal(X, small_bibtex.X.toarray())
    assert ds.labels() == small_bibtex.labels()
    # Without a vocabulary, one is built from the labels (most frequent first).
    ds2 = read_features(fpath, lpath)
    assert ds2.labels() == [sorted(r, key=ds2.vocabulary.index) for r in small_bibtex.labels()]
    assert sorted(ds2.vocabulary.names) == sorted({n for r in small_bibtex.labels() for n in r})


def test_read_features_malformed(tmp_path, small_bibtex):
    fpath = tmp_path / "X.npy"
    np.save(fpath, small_bibtex.X.toarray())
    lpath = tmp_path / "labels.txt"
    lpath.write_text("\n".join(",".join(r) for r in small_bibtex.labels()[:49]) + "\n")
    with pytest.raises(DataFormatError) as e:
        read_features(fpath, lpath)
    msg = str(e.value)
    assert "labels.txt" in msg and "X.npy" in msg and "49" in msg and "50" in msg
    bad = tmp_path / "X.npz"
    np.savez(bad, a=np.zeros(3))  # a plain npz, not a scipy sparse matrix
    with pytest.raises(DataFormatError, match=r"X\.npz"):
        read_features(bad, lpath)
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"obj\.npy"):
        read_features(obj, lpath)


# ---------------------------------------------------------------------- items files
@pytest.fixture(scope="module")
def posters_train(data_dir):
    return load_dataset("movie-posters", split="train", data_dir=data_dir)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_items_round_trip_relative_paths(tmp_path, data_dir, posters_train, suffix):
    small = posters_train.subset(np.arange(30))
    img_dir = Path(small.X[0]).parent
    rel = [os.path.relpath(x, img_dir.parent) for x in small.X]  # "images/tt....jpg"
    path = tmp_path / f"items{suffix}"
    write_items(path, rel, small.labels())
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temp file
    ds = read_items(path, root=img_dir.parent, vocabulary=small.vocabulary)
    assert ds.X == small.X and all(os.path.isabs(x) for x in ds.X)
    assert ds.labels() == small.labels()
    # Without root, relative paths are resolved against the file's folder.
    ds2 = read_items(path, vocabulary=small.vocabulary)
    assert ds2.X == [str(tmp_path / r) for r in rel]
    # Absolute paths are kept; free text is left alone.
    inputs = [*small.X[:2], "a poster of a dog"]
    write_items(path, inputs, [*small.labels()[:2], ["Drama"]])
    ds3 = read_items(path, allow_outside=True)  # absolute paths: only when allowed
    assert ds3.X == inputs


def test_items_jsonl_string_labels_and_ids(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text(
        '{"id": "a", "input": "hello", "labels": "x|y"}\n'
        "\n"
        '{"id": "b", "input": "world", "labels": []}\n'
        '{"id": "c", "input": "again", "labels": ["y"]}\n'
    )
    ds = read_items(path, id_column="id")
    assert ds.ids == ["a", "b", "c"] and ds.X == ["hello", "world", "again"]
    assert ds.labels() == [["y", "x"], [], ["y"]]


def test_items_malformed(tmp_path):
    csv_path = tmp_path / "items.csv"
    csv_path.write_text('input,labels\na.jpg,x|y\n"b\nc.jpg",x\nd.jpg,x,extra\n')
    with pytest.raises(DataFormatError, match="expected 2 fields") as e:
        read_items(csv_path)
    assert_names_line(e, csv_path, 5)  # physical line, after a two-line record
    csv_path.write_text("path,tags\na.jpg,x\n")
    with pytest.raises(DataFormatError, match="input") as e:
        read_items(csv_path)
    assert_names_line(e, csv_path, 1)
    jl = tmp_path / "items.jsonl"
    jl.write_text('{"input": "a", "labels": ["x"]}\n{"input": "b", "labels": ["x"}\n')
    with pytest.raises(DataFormatError, match="JSON") as e:
        read_items(jl)
    assert_names_line(e, jl, 2)
    jl.write_text('{"input": "a", "labels": ["x"]}\n\n{"input": "b", "labels": [1]}\n')
    with pytest.raises(DataFormatError, match="list of strings") as e:
        read_items(jl)
    assert_names_line(e, jl, 3)
    jl.write_text('{"input": "a", "labels": ["x"]}\n["b"]\n')
    with pytest.raises(DataFormatError, match="JSON object") as e:
        read_items(jl)
    assert_names_line(e, jl, 2)
    with pytest.raises(ValueError, match="separator"):
        write_items(tmp_path / "w.csv", ["a"], [["x|y"]])
    with pytest.raises(ValueError, match="agree"):
        write_items(tmp_path / "w.csv", ["a", "b"], [["x"]])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".csv.gz"])
def test_text_items_round_trip(tmp_path, suffix):
    texts = [
        "A red apple, fallen",
        'She said "hi"\nthen left',  # quotes and a newline inside a CSV field
        "images/cat.jpg",  # looks like a path: still text, never resolved
        "",
        "Zoë's café | crème brûlée",
    ]
    labels = [["fruit", "red"], ["speech"], ["cat"], [], ["food"]]
    path = tmp_path / f"items{suffix}"
    if suffix.endswith(".gz"):
        plain = tmp_path / "plain.csv"
        write_items(plain, texts, labels, text=True)
        path.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        write_items(path, texts, labels, text=True)
    ds = read_items(path)
    assert ds.X == texts
    assert [sorted(ls) for ls in ds.labels()] == [sorted(ls) for ls in labels]
    assert ds.info["input_kind"] == "text"
    assert read_items(path, resolve_paths=True).X == texts  # texts are never paths
    first = gzip.decompress(path.read_bytes()) if suffix.endswith(".gz") else path.read_bytes()
    assert first.decode().startswith("text,labels" if ".csv" in suffix else '{"text": ')
    # The path kind is unchanged and says so.
    write_items(tmp_path / "paths.csv", ["a.jpg"], [["x"]])
    paths = read_items(tmp_path / "paths.csv")
    assert paths.info["input_kind"] == "path" and paths.X == [str(tmp_path / "a.jpg")]
    with pytest.raises(TypeError, match="text 1 is int"):
        write_items(tmp_path / "w.csv", ["a", 1], [["x"], ["y"]], text=True)


def test_text_items_with_ids_and_other_column_names(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("id,caption,tags\na,hello world,x|y\nb,bye,y\n")
    ds = read_items(path, text_column="caption", labels_column="tags", id_column="id")
    assert ds.X == ["hello world", "bye"] and ds.ids == ["a", "b"]
    assert ds.info["input_kind"] == "text"
    write_items(tmp_path / "w.jsonl", ["t"], [["x"]], text=True, text_column="caption")
    assert read_items(tmp_path / "w.jsonl", text_column="caption").X == ["t"]
    # text_column=None: only the input column counts, a "text" column is ignored as before.
    path.write_text("input,text,labels\na.jpg,a cat,x\n")
    assert read_items(path, text_column=None).X == [str(tmp_path / "a.jpg")]
    with pytest.raises(ValueError, match="both 'input'"):
        read_items(path, text_column="input")


def test_text_items_malformed(tmp_path):
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("input,text,labels\na.jpg,a cat,x\n")
    with pytest.raises(DataFormatError, match=r"both 'input'.*and 'text'") as e:
        read_items(csv_path)
    assert_names_line(e, csv_path, 1)
    csv_path.write_text("caption,labels\na cat,x\n")
    with pytest.raises(DataFormatError, match=r"'input' column .* or a 'text' column") as e:
        read_items(csv_path)
    assert_names_line(e, csv_path, 1)
    csv_path.write_text("text,tags\na cat,x\n")
    with pytest.raises(DataFormatError, match=r"missing \['labels'\]") as e:
        read_items(csv_path)
    assert_names_line(e, csv_path, 1)
    csv_path.write_text('text,labels\n"a cat\n,x\n')
    with pytest.raises(DataFormatError, match="expected 2 fields") as e:  # unclosed quote
        read_items(csv_path)
    assert_names_line(e, csv_path, 2)

    jl = tmp_path / "items.jsonl"
    jl.write_text('\n{"input": "a.jpg", "text": "a cat", "labels": ["x"]}\n')
    with pytest.raises(DataFormatError, match="first object has both") as e:
        read_items(jl)
    assert_names_line(e, jl, 2)
    jl.write_text('{"caption": "a cat", "labels": ["x"]}\n')
    with pytest.raises(DataFormatError, match="neither") as e:
        read_items(jl)
    assert_names_line(e, jl, 1)
    jl.write_text('{"caption": "a cat"}\n')  # as before text items: both keys named
    with pytest.raises(DataFormatError, match=r"missing keys \['input', 'labels'\]") as e:
        read_items(jl)
    assert_names_line(e, jl, 1)
    jl.write_text('{"text": "a cat"}\n')
    with pytest.raises(DataFormatError, match=r"missing keys \['labels'\]") as e:
        read_items(jl)
    jl.write_text('{"text": "a", "labels": ["x"]}\n{"input": "b.jpg", "labels": ["x"]}\n')
    with pytest.raises(DataFormatError, match=r"missing keys \['text'\]") as e:
        read_items(jl)
    assert_names_line(e, jl, 2)
    jl.write_text('{"text": "a", "labels": ["x"]}\n{"text": "b", "input": "b", "labels": []}\n')
    with pytest.raises(DataFormatError, match="both 'text' and 'input'") as e:
        read_items(jl)
    assert_names_line(e, jl, 2)
    jl.write_text('{"text": "a", "labels": ["x"]}\n{"text": 3, "labels": []}\n')
    with pytest.raises(DataFormatError, match="'text' should be a string") as e:
        read_items(jl)
    assert_names_line(e, jl, 2)


# ---------------------------------------------------------------------- label-only datasets
def test_nus_wide(data_dir):
    with pytest.warns(UserWarning, match="line 78374"):
        train = load_dataset("nus-wide-81-labels", split="train", data_dir=data_dir)
    assert train.X is None and train.Y.shape == (161789, 81)
    assert len(train.ids) == 161789
    assert train.vocabulary.names[:3] == ["airport", "animal", "beach"]
    assert train.vocabulary.names[-1] == "zebra"
    assert train.info["invalid_cells"] == [(78374, "lake", "-1130179")]
    assert train.cardinality == pytest.approx(1.86, abs=0.01)
    test = load_dataset("nus-wide-81-labels", split="test", data_dir=data_dir)
    assert test.Y.shape == (107859, 81) and test.vocabulary == train.vocabulary
    assert test.info["invalid_cells"] == []
    # Row 0 of train: only "person" (column 43 of the CSV).
    assert train.labels()[0] == ["person"]


def test_nus_wide_strict(data_dir):
    with pytest.raises(DataFormatError, match="lake") as e:
        load_dataset("nus-wide-81-labels", split="train", data_dir=data_dir, strict=True)
    assert "labels_train" in str(e.value) and e.value.line == 78374


def test_debian_depends(data_dir):
    ds = load_dataset("debian-depends", data_dir=data_dir)
    assert ds.X is None and len(ds) == 55851 and ds.n_labels == 35437
    assert ds.ids[0] == "0ad" and "libc6" in ds.labels()[0]
    assert ds.cardinality == pytest.approx(5.06, abs=0.01)
    ds5 = load_dataset("debian-depends", split="all", data_dir=data_dir, min_count=5)
    assert ds5.n_labels == 7058 and len(ds5) == 55851
    assert ds5.info["n_dropped_occurrences"] == ds.Y.nnz - ds5.Y.nnz > 0


# ---------------------------------------------------------------------- image datasets
def test_movie_posters(data_dir, posters_train):
    val = load_dataset("movie-posters", split="val", data_dir=data_dir)
    test = load_dataset("movie-posters", split="test", data_dir=data_dir)
    assert (len(posters_train), len(val)) == (5000, 1000)
    assert test.info["dropped_overlap_train"] == 3 and test.info["dropped_overlap_val"] == 2
    assert len(test) == 1254 - 5 == 1249
    assert not set(test.ids) & (set(posters_train.ids) | set(val.ids))
    for ds in (posters_train, val, test):
        assert ds.n_labels == 25 and ds.vocabulary == posters_train.vocabulary
        assert ds.info["missing_images"] == 0
        assert all(
            os.path.isabs(x) and x.endswith(f"{i}.jpg") for x, i in zip(ds.X, ds.ids, strict=True)
        )
    assert os.path.isfile(test.X[0])
    assert posters_train.vocabulary.names[:2] == ["Action", "Adventure"]
    # The 0/1 columns agree with the Genre list column.
    with open(data_dir / "movie-posters" / "val.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row, labels in zip(rows, val.labels(), strict=True):
        assert sorted(ast.literal_eval(row["Genre"])) == sorted(labels)


def test_tabler_icons(data_dir):
    train = load_dataset("tabler-icons", split="train", data_dir=data_dir)
    test = load_dataset("tabler-icons", split="test", data_dir=data_dir)
    # README: 1,792 tags used by at least 5 icons; 2 icons keep no tag -> 5,231 usable.
    assert train.n_labels == 1792 and train.vocabulary == test.vocabulary
    assert len(train) + len(test) == 5231
    assert len(test) == round(0.2 * 5231)
    assert not set(train.ids) & set(test.ids)
    assert train.info["n_tags_total"] == 7618 and train.info["n_null_tags"] == 2
    assert np.all(np.diff(train.Y.indptr) > 0) and np.all(np.diff(test.Y.indptr) > 0)
    assert all(x.endswith(".svg") and os.path.isabs(x) for x in train.X)
    assert os.path.isfile(test.X[0])
    again = load_dataset("tabler-icons", split="test", data_dir=data_dir, seed=0)
    assert again.ids == test.ids
    other = load_dataset("tabler-icons", split="test", data_dir=data_dir, seed=1)
    assert other.ids != test.ids
    loose = load_dataset("tabler-icons", split="all", data_dir=data_dir, min_count=2)
    assert loose.n_labels > train.n_labels and len(loose) >= len(train) + len(test)
    meta = json.loads((data_dir / "tabler-icons" / "icons.json").read_text())
    name = train.ids[0]
    assert set(train.labels()[0]) <= {str(t) for t in meta[name]["tags"]}


def test_coco128_and_read_yolo(data_dir, tmp_path):
    ds = load_dataset("coco128", data_dir=data_dir)
    assert len(ds) == 128 and ds.n_labels == 80
    assert ds.vocabulary.names[:3] == ["person", "bicycle", "car"]
    assert int((np.diff(ds.Y.indptr) > 0).sum()) == 126
    assert int((np.asarray(ds.Y.sum(axis=0)).ravel() > 0).sum()) == 71
    assert ds.info["label_files_without_image"] == ["000000000656", "000000000659"]
    assert all(os.path.isfile(x) for x in ds.X[:3])
    # read_yolo on a tiny copy; a bad label line names file and line.
    root = tmp_path / "yolo"
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    (root / "names.txt").write_text("cat\ndog\nbird\n")
    for stem in ("a", "b", "c"):
        (root / "images" / "val" / f"{stem}.jpg").write_bytes(b"")
    (root / "labels" / "val" / "a.txt").write_text("1 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n")
    (root / "labels" / "val" / "b.txt").write_text("0 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.1 0.1\n")
    small = read_yolo(root, "val")
    assert small.ids == ["a", "b", "c"] and small.labels() == [["dog"], ["cat", "bird"], []]
    (root / "labels" / "val" / "b.txt").write_text("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataFormatError, match="class index 7") as e:
        read_yolo(root, "val")
    assert_names_line(e, root / "labels" / "val" / "b.txt", 2)


# ---------------------------------------------------------------------- the container
def test_dataset_container(bibtex):
    sub = bibtex.subset([5, 2])
    assert len(sub) == 2 and sub.X.shape == (2, 1836)
    assert sub.labels() == [bibtex.labels()[5], bibtex.labels()[2]]
    mask = np.zeros(len(bibtex), dtype=bool)
    mask[:3] = True
    assert len(bibtex.subset(mask)) == 3
    assert "bibtex/train" in repr(bibtex) and "n_samples=4880" in repr(bibtex)
    with pytest.raises(ValueError, match="rows"):
        MultiLabelDataset(
            X=np.zeros((3, 2)), Y=bibtex.Y[:4], vocabulary=bibtex.vocabulary, name="bad"
        )
    with pytest.raises(ValueError, match="ids"):
        MultiLabelDataset(
            X=None, Y=bibtex.Y[:4], vocabulary=bibtex.vocabulary, name="bad", ids=["a"]
        )
    items = MultiLabelDataset(
        X=["a", "b"], Y=bibtex.Y[:2], vocabulary=bibtex.vocabulary, name="items", ids=["1", "2"]
    )
    assert items.subset([1]).X == ["b"] and items.subset([1]).ids == ["2"]
    assert items.n_features is None and bibtex.n_features == 1836


def test_gzipped_items(tmp_path):
    path = tmp_path / "items.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"input": "x", "labels": ["a", "b"]}\n')
    assert read_items(path).labels() == [["a", "b"]]


def test_items_paths_stay_inside_the_folder(tmp_path):
    """Issue 12: an absolute input path, or one leaving the items file's folder through '..'
    or a symlink, is refused naming file and line, unless allow_outside=True."""
    folder = tmp_path / "items"
    (folder / "images").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (folder / "out").symlink_to(tmp_path / "elsewhere")
    (folder / "images" / "link.jpg").symlink_to(tmp_path / "elsewhere" / "x.jpg")
    (folder / "images" / "ok_link.jpg").symlink_to(folder / "images" / "a.jpg")
    good = ["images/a.jpg", "images/ok_link.jpg", "images/../images/b.jpg", "a caption"]
    cases = {
        "/etc/hostname": "is an absolute path",
        "/dev/zero": "is an absolute path",
        "../elsewhere/x.jpg": "resolves outside",
        "images/../../elsewhere/x.jpg": "resolves outside",
        "out/x.jpg": "resolves outside",
        "images/link.jpg": "resolves outside",
    }
    for suffix in (".csv", ".jsonl"):
        for bad, why in cases.items():
            path = folder / f"items{suffix}"
            write_items(path, [*good, bad], [["x"]] * 5)
            line = 6 if suffix == ".csv" else 5
            with pytest.raises(DataFormatError, match=f"items{suffix}, line {line}: .*{why}"):
                read_items(path)
            ds = read_items(path, allow_outside=True)
            assert ds.X[:4] == [
                str(folder / "images" / "a.jpg"),
                str(folder / "images" / "ok_link.jpg"),
                str(folder / "images" / "b.jpg"),
                "a caption",
            ]
            assert ds.X[4] == (bad if bad.startswith("/") else os.path.normpath(folder / bad))
            # Inputs the caller says are not paths, and URLs, are never checked.
            assert read_items(path, resolve_paths=False).X[4] == bad
    write_items(folder / "urls.csv", ["http://example.org/a.jpg", "s3://b/c.png"], [["x"]] * 2)
    assert read_items(folder / "urls.csv").X == ["http://example.org/a.jpg", "s3://b/c.png"]
    # With root=, the folder that counts is root.
    write_items(folder / "r.csv", ["elsewhere/x.jpg"], [["x"]])
    assert read_items(folder / "r.csv", root=tmp_path).X == [str(tmp_path / "elsewhere/x.jpg")]


def test_items_label_errors_name_the_file(tmp_path):
    path = tmp_path / "nolabels.csv"
    write_items(path, ["a.jpg", "b.jpg"], [[], []])
    with pytest.raises(DataFormatError, match=r"nolabels\.csv: no label occurs"):
        read_items(path)


def test_load_split_passes_the_readers_options(data_dir: Path) -> None:
    # evaluate reads a split through load_split: the dataset's own split gets the reader's
    # options (here tabler-icons' seeded test_size), and the validation draw is left out.
    from labelsphere.predict import load_split

    default = load_split("tabler-icons", "test", data_dir)
    bigger = load_split("tabler-icons", "test", data_dir, test_size=0.3, val_split="random")
    assert len(bigger) > 1.3 * len(default)
    assert len(bigger) == len(load_dataset("tabler-icons", "test", data_dir, test_size=0.3))
    fit = load_split("tabler-icons", "train", data_dir, test_size=0.3, val_split="random")
    val = load_split("tabler-icons", "val", data_dir, test_size=0.3, val_split="random")
    assert set(fit.ids).isdisjoint(val.ids) and set(fit.ids).isdisjoint(bigger.ids)

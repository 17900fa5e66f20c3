"""labelsphere.data's dataset registry and shared text helpers, on tiny files in ``tmp_path``.

No real data is read: these run in seconds. The real datasets are exercised by test_data.py.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from labelsphere.data import (
    DATASET_REGISTRY,
    DATASETS,
    DataFormatError,
    DatasetEntry,
    MultiLabelDataset,
    dataset_splits,
    load_dataset,
    read_items,
    train_val_test,
    write_items,
)
from labelsphere.data.text import (
    iter_jsonl,
    iter_lines,
    open_text,
    read_csv,
    read_json,
    require_str,
    require_str_list,
    split_labels,
)


def assert_names_line(exc: pytest.ExceptionInfo, path: Path, line: int) -> None:
    msg = str(exc.value)
    assert path.name in msg, msg
    assert re.search(rf"\bline {line}\b", msg), msg
    assert exc.value.line == line


# ---------------------------------------------------------------------- the registry
def test_every_entry_is_complete():
    assert list(DATASETS) == list(DATASET_REGISTRY)
    for name, entry in DATASET_REGISTRY.items():
        assert isinstance(entry, DatasetEntry) and entry.name == name
        assert isinstance(entry.description, str) and entry.description.strip()
        assert DATASETS[name] == entry.description
        assert isinstance(entry.splits, tuple) and entry.splits
        assert all(isinstance(s, str) and s for s in entry.splits)
        assert entry.default_split in entry.splits
        assert dataset_splits(name) == entry.splits
        assert callable(entry.loader)
        assert isinstance(entry.options, Mapping)


def test_entries_are_read_only():
    entry = DATASET_REGISTRY["tabler-icons"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.splits = ("all",)  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.options["seed"] = 1  # type: ignore[index]
    with pytest.raises(ValueError, match="description"):
        DatasetEntry("x", "", ("all",), lambda folder, split: None)
    with pytest.raises(ValueError, match="splits"):
        DatasetEntry("x", "an x", (), lambda folder, split: None)
    with pytest.raises(TypeError, match="callable"):
        DatasetEntry("x", "an x", ("all",), "not a loader")  # type: ignore[arg-type]


def test_load_dataset_rejects_unknown_name_split_and_option(tmp_path):
    # All three are checked before the data directory is looked at.
    with pytest.raises(ValueError, match=r"unknown dataset 'no-such-data'; choose one of \[") as e:
        load_dataset("no-such-data", data_dir=tmp_path)
    assert "'bibtex'" in str(e.value) and "'coco128'" in str(e.value)
    with pytest.raises(ValueError, match="unknown dataset 'no-such-data'"):
        dataset_splits("no-such-data")
    with pytest.raises(
        ValueError,
        match=re.escape("dataset 'bibtex' has no split 'val'; choose one of ['train', 'test']"),
    ):
        load_dataset("bibtex", split="val", data_dir=tmp_path)
    with pytest.raises(ValueError, match=re.escape("choose one of ['all']")):
        load_dataset("debian-depends", split="train", data_dir=tmp_path)
    with pytest.raises(
        TypeError,
        match=re.escape("dataset 'bibtex' got unknown options ['min_count']; valid options: none"),
    ):
        load_dataset("bibtex", data_dir=tmp_path, min_count=3)
    with pytest.raises(
        TypeError,
        match=re.escape(
            "dataset 'tabler-icons' got unknown options ['a', 'b']; "
            "valid options: ['min_count', 'seed', 'test_size']"
        ),
    ):
        load_dataset("tabler-icons", data_dir=tmp_path, b=1, a=2)
    with pytest.raises(FileNotFoundError, match=r"dataset folder .*bibtex does not exist"):
        load_dataset("bibtex", data_dir=tmp_path)
    with pytest.raises(ValueError, match="neither a shared dataset"):
        train_val_test("no-such-data", tmp_path)


def _fake_entry(calls: list[dict]) -> DatasetEntry:
    def load_fake(folder: Path, split: str, min_count: int = 1) -> MultiLabelDataset:
        calls.append({"folder": folder, "split": split, "min_count": min_count})
        return read_items(folder / f"{split}.csv", min_count=min_count, name=f"fake/{split}")

    return DatasetEntry(
        "fake", "a fake dataset of words", ("train", "test"), load_fake, {"min_count": 1}
    )


def test_a_new_entry_is_seen_everywhere(tmp_path, monkeypatch):
    folder = tmp_path / "fake"
    folder.mkdir()
    words = [f"w{i}" for i in range(20)]
    write_items(folder / "train.csv", words, [["a", "b"] if i % 2 else ["a"] for i in range(20)])
    write_items(folder / "test.csv", words[:4], [["b"], ["a"], [], ["a", "b"]])
    calls: list[dict] = []
    with monkeypatch.context() as m:
        m.setitem(DATASET_REGISTRY, "fake", _fake_entry(calls))
        assert DATASETS["fake"] == "a fake dataset of words" and "fake" in DATASETS
        assert dataset_splits("fake") == ("train", "test")
        train = load_dataset("fake", data_dir=tmp_path)  # default split: train
        assert train.name == "fake/train" and len(train) == 20 and train.X == words
        assert calls[-1] == {"folder": folder, "split": "train", "min_count": 1}
        rare = load_dataset("fake", "train", tmp_path, min_count=15)
        assert rare.vocabulary.names == ["a"] and calls[-1]["min_count"] == 15
        with pytest.raises(TypeError, match=r"valid options: \['min_count'\]"):
            load_dataset("fake", data_dir=tmp_path, seed=1)
        fit, val, test = train_val_test("fake", tmp_path, val_fraction=0.25)
        assert (len(fit), len(val), len(test)) == (15, 5, 4)
        assert (fit.name, val.name) == ("fake/train", "fake/val")
        assert sorted(fit.X + val.X) == sorted(words)
    assert "fake" not in DATASETS
    with pytest.raises(ValueError, match="unknown dataset 'fake'"):
        load_dataset("fake", data_dir=tmp_path)


# ---------------------------------------------------------------------- CSV helper
def _csv(path: Path, required=("input", "labels")) -> list[tuple[int, list[str]]]:
    with open_text(path) as f:
        _, records = read_csv(f, path, required)
        return list(records)


def test_read_csv_records_and_their_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('\ufeffinput,labels\na,x|y\n\n"b\nc",x\nd,\n', encoding="utf-8")
    with open_text(path) as f:
        header, records = read_csv(f, path, ["labels"])
        assert header == ["input", "labels"]  # byte order mark dropped
        assert list(records) == [(2, ["a", "x|y"]), (4, ["b\nc", "x"]), (6, ["d", ""])]
    gz = tmp_path / "t.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("input,labels\na,x\n")
    assert _csv(gz) == [(2, ["a", "x"])]


def test_read_csv_malformed_row_and_missing_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('input,labels\na,x\n"b\nc",x\nd,x,extra\n')
    with pytest.raises(DataFormatError, match="expected 2 fields like the header, found 3") as e:
        _csv(path)
    assert_names_line(e, path, 5)  # the physical line, after a two-line record
    path.write_text("input,tags\na,x\n")
    with pytest.raises(DataFormatError, match=r"missing \['labels'\]") as e:
        _csv(path)
    assert_names_line(e, path, 1)
    path.write_text("")
    with pytest.raises(DataFormatError, match="empty file") as e:
        _csv(path)
    assert_names_line(e, path, 1)
    with open_text(path) as f, pytest.raises(DataFormatError, match="want a header") as e:
        read_csv(f, path, empty_message="want a header")
    path.write_bytes(b"input,labels\na,x\nb,\xff\n")
    with pytest.raises(DataFormatError, match="not UTF-8") as e:
        _csv(path)
    assert_names_line(e, path, 3)


# ---------------------------------------------------------------------- JSONL and JSON helpers
def test_iter_jsonl_objects_and_their_lines(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": "x", "b": ["y"]}\n\n  \n{"a": "z", "b": [], "c": 1}\n')
    assert list(iter_jsonl(path, ["a", "b"])) == [
        (1, {"a": "x", "b": ["y"]}),
        (4, {"a": "z", "b": [], "c": 1}),
    ]
    lineno, obj = list(iter_jsonl(path))[1]
    assert require_str(obj, "a", path, lineno) == "z"
    assert require_str_list(obj, "b", path, lineno) == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"a": "x", "b": ["y"}', "expected one JSON object per line"),
        ('["a", "b"]', "expected a JSON object, got list"),
        ('{"a": "x"}', r"object is missing keys \['b'\]"),
    ],
)
def test_iter_jsonl_malformed(tmp_path, line, message):
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('{"a": "x", "b": ["y"]}\n\n' + line + "\n")
    with pytest.raises(DataFormatError, match=message) as e:
        list(iter_jsonl(path, ["a", "b"]))
    assert_names_line(e, path, 3)


def test_require_types(tmp_path):
    path = tmp_path / "t.jsonl"
    obj = {"a": 3, "b": ["x", 1], "c": "x"}
    with pytest.raises(DataFormatError, match="'a' should be a string, got int") as e:
        require_str(obj, "a", path, 7)
    assert_names_line(e, path, 7)
    with pytest.raises(DataFormatError, match="'b' should be a list of strings") as e:
        require_str_list(obj, "b", path, 8)
    assert_names_line(e, path, 8)
    with pytest.raises(DataFormatError, match="'c' should be a list of strings"):
        require_str_list(obj, "c", path, 9)


def test_read_json_and_lines(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{\r\n"a": [1, 2],\r\n"b": null\r\n}\r\n')
    assert read_json(path) == {"a": [1, 2], "b": None}
    path.write_text('{\r"a": [1, 2],\r"b": nul\r}')
    with pytest.raises(DataFormatError, match="not valid JSON") as e:
        read_json(path)
    assert_names_line(e, path, 3)
    path.write_text("one\r\ntwo\rthree\n\nfour")
    assert list(iter_lines(path)) == [(1, "one"), (2, "two"), (3, "three"), (4, ""), (5, "four")]


def test_split_labels():
    assert split_labels(" a | b||c ", "|") == ["a", "b", "c"]
    assert split_labels("", "|") == [] and split_labels(" , ", ",") == []

"""Items with labels: a CSV or JSON-lines file of inputs (text, file paths) and their labels."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from labelsphere.artifacts import atomic_write_text
from labelsphere.data.dataset import DataFormatError, MultiLabelDataset, encode_label_lists
from labelsphere.data.text import (
    is_str_list,
    iter_jsonl,
    open_text,
    read_csv,
    require_str,
    split_labels,
)
from labelsphere.labels import LabelVocabulary, UnknownPolicy

__all__ = ["read_items", "write_items"]

_PATH_SUFFIXES = frozenset(
    ".jpg .jpeg .png .gif .bmp .tif .tiff .webp .svg .ico .heic .avif "
    ".wav .mp3 .flac .ogg .m4a .mp4 .avi .mov .mkv .webm "
    ".txt .md .json .xml .html .htm .pdf .csv .npy .npz .pt".split()
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _looks_like_relative_path(s: str) -> bool:
    """Heuristic: a relative file path (has a separator or a common file suffix)."""
    if not s or "\n" in s or s != s.strip() or _URL.match(s) or os.path.isabs(s):
        return False
    if "/" in s or "\\" in s:
        return True
    return Path(s).suffix.lower() in _PATH_SUFFIXES


def read_items(
    path: str | Path,
    input_column: str = "input",
    labels_column: str = "labels",
    sep: str = "|",
    root: str | Path | None = None,
    id_column: str | None = None,
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    min_count: int = 1,
    resolve_paths: bool | None = None,
    name: str | None = None,
) -> MultiLabelDataset:
    """Read an "items with labels" file: CSV with a header row, or JSON lines.

    CSV (``.csv``, ``.csv.gz``): columns ``input_column`` and ``labels_column`` (labels joined
    by ``sep``, default ``"|"``), other columns ignored. JSONL (``.jsonl``, ``.ndjson``, maybe
    ``.gz``): one object per line with the same keys; labels are a JSON list of strings or a
    ``sep``-joined string. Blank JSONL lines are skipped.

    ``X`` is the list of inputs. Inputs that look like relative file paths (they contain a
    path separator or end in a common file suffix such as ``.jpg``) are made absolute relative to
    ``root`` (default: the file's directory); ``resolve_paths=True``/``False`` forces this
    on/off for every input. ``id_column`` optionally names a column of sample ids.

    Without ``vocabulary`` one is built from the labels with ``LabelVocabulary.from_lists``
    (labels seen fewer than ``min_count`` times dropped); with one, labels are encoded into it.
    Errors name the physical line (for CSV, the line where the record starts).
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".csv":
        rows = _iter_csv_items(path, input_column, labels_column, id_column, sep)
    elif kind in (".jsonl", ".ndjson"):
        rows = _iter_jsonl_items(path, input_column, labels_column, id_column, sep)
    else:
        raise ValueError(f"{path}: expected a .csv or .jsonl file (optionally .gz)")
    base = Path(root) if root is not None else path.parent
    base = base.expanduser().resolve()
    inputs: list[str] = []
    label_lists: list[list[str]] = []
    ids: list[str] = []
    for inp, labels, item_id in rows:
        if resolve_paths or (resolve_paths is None and _looks_like_relative_path(inp)):
            if not os.path.isabs(inp):
                inp = os.path.normpath(base / inp)
        inputs.append(inp)
        label_lists.append(labels)
        if item_id is not None:
            ids.append(item_id)
    if not inputs:
        raise DataFormatError("no items (expected at least one row after the header)", path)
    Y, vocab = encode_label_lists(label_lists, vocabulary, unknown, min_count)
    return MultiLabelDataset(
        X=inputs,
        Y=Y,
        vocabulary=vocab,
        name=name or path.name.split(".")[0],
        ids=ids if id_column is not None else None,
        info={"path": str(path)},
    )


def _iter_csv_items(
    path: Path, input_column: str, labels_column: str, id_column: str | None, sep: str
) -> Iterator[tuple[str, list[str], str | None]]:
    wanted = [input_column, labels_column] + ([id_column] if id_column else [])
    with open_text(path) as f:
        header, records = read_csv(f, path, wanted)
        ii, li = header.index(input_column), header.index(labels_column)
        di = header.index(id_column) if id_column else -1
        for _, row in records:
            yield row[ii], split_labels(row[li], sep), (row[di] if di >= 0 else None)


def _iter_jsonl_items(
    path: Path, input_column: str, labels_column: str, id_column: str | None, sep: str
) -> Iterator[tuple[str, list[str], str | None]]:
    wanted = [input_column, labels_column] + ([id_column] if id_column else [])
    for lineno, obj in iter_jsonl(path, wanted):
        inp = require_str(obj, input_column, path, lineno)
        raw = obj[labels_column]
        if isinstance(raw, str):
            labels = split_labels(raw, sep)
        elif is_str_list(raw):
            labels = [t for t in raw if t]
        else:
            raise DataFormatError(
                f"{labels_column!r} should be a list of strings or a {sep!r}-joined string, "
                f"got {raw!r:.80}",
                path,
                lineno,
            )
        yield inp, labels, (str(obj[id_column]) if id_column else None)


def write_items(
    path: str | Path,
    inputs: Sequence[str],
    label_lists: Iterable[Iterable[str]],
    sep: str = "|",
    input_column: str = "input",
    labels_column: str = "labels",
) -> None:
    """Write an "items with labels" file that :func:`read_items` reads back, atomically.

    A ``.jsonl`` path gets JSON lines with label lists; anything else gets CSV with a header
    ``input,labels`` and labels joined by ``sep``. Inputs are written as given (relative paths
    are read back relative to the file's directory).
    """
    path = Path(path)
    inputs = list(inputs)
    lists = [list(ls) for ls in label_lists]
    if len(inputs) != len(lists):
        raise ValueError(f"{len(inputs)} inputs but {len(lists)} label lists; they must agree")
    for i, (inp, labels) in enumerate(zip(inputs, lists, strict=True)):
        if not isinstance(inp, str):
            raise TypeError(f"input {i} is {type(inp).__name__}, expected str")
        for lab in labels:
            if not isinstance(lab, str) or not lab.strip():
                raise ValueError(f"item {i}: label {lab!r} is not a non-empty string")
            if sep in lab:
                raise ValueError(f"item {i}: label {lab!r} contains the separator {sep!r}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        text = "".join(
            json.dumps({input_column: inp, labels_column: labels}, ensure_ascii=False) + "\n"
            for inp, labels in zip(inputs, lists, strict=True)
        )
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([input_column, labels_column])
        for inp, labels in zip(inputs, lists, strict=True):
            w.writerow([inp, sep.join(labels)])
        text = buf.getvalue()
    atomic_write_text(path, text)

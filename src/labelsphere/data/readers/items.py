"""Items with labels: a CSV or JSON-lines file of inputs (file paths or raw text) and their labels."""

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
    text_column: str | None = "text",
    allow_outside: bool = False,
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
    ``info["input_kind"]`` is ``"path"``.

    Paths stay inside the folder: an input path that is absolute, or that leaves ``root``
    (default: the items file's folder) through ``..`` or through a symlink resolving outside
    it, is refused with a ``DataFormatError`` naming the file and line, so an items file
    cannot make labelsphere read ``/dev/zero``, ``/etc/...`` or a neighbour's files.
    ``allow_outside=True`` accepts them (absolute paths are then kept as written). URLs and
    inputs that do not look like paths (or all inputs, with ``resolve_paths=False``) are
    left alone.

    Text items: a ``text_column`` (default ``"text"``) instead of ``input_column`` holds each
    item's raw text. ``X`` is then the list of texts exactly as written (never resolved as
    paths) and ``info["input_kind"]`` is ``"text"``. The CSV header or the first JSONL object
    decides which kind a file is; holding both columns, or neither, is an error naming line 1
    (the header) or the first object's line. ``text_column=None`` reads ``input_column`` only,
    as before text items existed.

    Without ``vocabulary`` one is built from the labels with ``LabelVocabulary.from_lists``
    (labels seen fewer than ``min_count`` times dropped); with one, labels are encoded into it.
    Errors name the physical line (for CSV, the line where the record starts).
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if text_column is not None and text_column == input_column:
        raise ValueError(f"text_column and input_column are both {input_column!r}")
    columns = (input_column, text_column)
    found: list[str] = []  # the input column the file has, set once its header is read
    if kind == ".csv":
        rows = _iter_csv_items(path, columns, labels_column, id_column, sep, found)
    elif kind in (".jsonl", ".ndjson"):
        rows = _iter_jsonl_items(path, columns, labels_column, id_column, sep, found)
    else:
        raise ValueError(f"{path}: expected a .csv or .jsonl file (optionally .gz)")
    base = Path(root) if root is not None else path.parent
    base = base.expanduser().resolve()
    inside = None if allow_outside else _Inside(base)
    inputs: list[str] = []
    label_lists: list[list[str]] = []
    ids: list[str] = []
    for lineno, inp, labels, item_id in rows:
        if found[0] == text_column or resolve_paths is False:
            pass  # raw text, or inputs the caller says are not paths
        elif os.path.isabs(inp) and not _URL.match(inp):
            if inside is not None:
                raise DataFormatError(
                    f"input {inp!r:.200} is an absolute path; paths must be relative to the "
                    f"items file's folder {base} (allow_outside=True reads it anyway)",
                    path,
                    lineno,
                )
        elif resolve_paths or (resolve_paths is None and _looks_like_relative_path(inp)):
            resolved = os.path.normpath(base / inp)
            if inside is not None and not inside(resolved):
                raise DataFormatError(
                    f"input {inp!r:.200} resolves outside the items file's folder {base} "
                    "(through '..' or a symlink); allow_outside=True reads it anyway",
                    path,
                    lineno,
                )
            inp = resolved
        inputs.append(inp)
        label_lists.append(labels)
        if item_id is not None:
            ids.append(item_id)
    if not inputs:
        raise DataFormatError("no items (expected at least one row after the header)", path)
    try:
        Y, vocab = encode_label_lists(label_lists, vocabulary, unknown, min_count)
    except DataFormatError:
        raise
    except ValueError as e:  # e.g. "no label occurs at least min_count=1 times": name the file
        raise DataFormatError(str(e), path) from None
    return MultiLabelDataset(
        X=inputs,
        Y=Y,
        vocabulary=vocab,
        name=name or path.name.split(".")[0],
        ids=ids if id_column is not None else None,
        info={"path": str(path), "input_kind": "text" if found[0] == text_column else "path"},
    )


class _Inside:
    """Whether a normalised absolute path, symlinks resolved, lies inside ``base`` (resolved).

    The real path of each directory is computed once (items share a few folders), then only
    the last component is checked for a symlink: one ``lstat`` an item.
    """

    def __init__(self, base: Path) -> None:
        self.base = str(base)
        self.prefix = self.base.rstrip(os.sep) + os.sep
        self.dirs: dict[str, str] = {}

    def _within(self, p: str) -> bool:
        return p == self.base or p.startswith(self.prefix)

    def __call__(self, path: str) -> bool:
        if not self._within(path):
            return False  # '..' led out, before any symlink
        folder, name = os.path.split(path)
        real_folder = self.dirs.get(folder)
        if real_folder is None:
            real_folder = self.dirs[folder] = os.path.realpath(folder)
        real = os.path.join(real_folder, name)
        if os.path.islink(real):
            real = os.path.realpath(real)
        return self._within(real)


def _input_column_of(
    present: Iterable[str], columns: tuple[str, str | None], path: Path, lineno: int, what: str
) -> str:
    """Which of (input column, text column) ``present`` holds; both or neither is an error."""
    input_column, text_column = columns
    present = list(present)
    if text_column is None:
        return input_column
    has_input, has_text = input_column in present, text_column in present
    if has_input and has_text:
        raise DataFormatError(
            f"{what} has both {input_column!r} (a file path) and {text_column!r} (raw text); "
            "an items file holds one kind of input",
            path,
            lineno,
        )
    if not has_input and not has_text:
        raise DataFormatError(
            f"{what} should have an {input_column!r} column (file paths) or a {text_column!r} "
            f"column (raw text), found neither ({what}: {present})",
            path,
            lineno,
        )
    return input_column if has_input else text_column


def _iter_csv_items(
    path: Path,
    columns: tuple[str, str | None],
    labels_column: str,
    id_column: str | None,
    sep: str,
    found: list[str],
) -> Iterator[tuple[int, str, list[str], str | None]]:
    with open_text(path) as f:
        header, records = read_csv(f, path)
        found.append(_input_column_of(header, columns, path, 1, "header"))
        input_column = found[0]
        wanted = [input_column, labels_column] + ([id_column] if id_column else [])
        missing = [c for c in wanted if c not in header]
        if missing:  # read_csv's message for missing columns
            raise DataFormatError(
                f"header should have columns {wanted}, missing {missing} (header: {header})",
                path,
                1,
            )
        ii, li = header.index(input_column), header.index(labels_column)
        di = header.index(id_column) if id_column else -1
        for lineno, row in records:
            yield lineno, row[ii], split_labels(row[li], sep), (row[di] if di >= 0 else None)


def _iter_jsonl_items(
    path: Path,
    columns: tuple[str, str | None],
    labels_column: str,
    id_column: str | None,
    sep: str,
    found: list[str],
) -> Iterator[tuple[int, str, list[str], str | None]]:
    others = [labels_column] + ([id_column] if id_column else [])
    input_column = other_column = None
    for lineno, obj in iter_jsonl(path):
        if input_column is None:  # the first object decides the file's kind
            if not any(c in obj for c in columns if c) and any(k not in obj for k in others):
                input_column = columns[0]  # "missing keys [input, labels]", as before
            else:
                input_column = _input_column_of(obj, columns, path, lineno, "the first object")
            found.append(input_column)
            other_column = next((c for c in columns if c is not None and c != input_column), None)
        missing = [k for k in [input_column, *others] if k not in obj]
        if missing:  # iter_jsonl's message for missing keys
            raise DataFormatError(f"object is missing keys {missing}", path, lineno)
        if other_column is not None and other_column in obj:
            raise DataFormatError(
                f"object has both {input_column!r} and {other_column!r}; this file's items are "
                f"{input_column!r} (from its first object)",
                path,
                lineno,
            )
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
        yield lineno, inp, labels, (str(obj[id_column]) if id_column else None)


def write_items(
    path: str | Path,
    inputs: Sequence[str],
    label_lists: Iterable[Iterable[str]],
    sep: str = "|",
    input_column: str = "input",
    labels_column: str = "labels",
    text: bool = False,
    text_column: str = "text",
) -> None:
    """Write an "items with labels" file that :func:`read_items` reads back, atomically.

    A ``.jsonl`` path gets JSON lines with label lists; anything else gets CSV with a header
    ``input,labels`` and labels joined by ``sep``. Inputs are written as given (relative paths
    are read back relative to the file's directory). With ``text=True`` the inputs are raw
    texts, written under ``text_column`` (default ``"text"``) instead of ``input_column``;
    :func:`read_items` then returns them unchanged with ``info["input_kind"] == "text"``.
    """
    path = Path(path)
    inputs = list(inputs)
    lists = [list(ls) for ls in label_lists]
    if len(inputs) != len(lists):
        raise ValueError(f"{len(inputs)} inputs but {len(lists)} label lists; they must agree")
    what = "text" if text else "input"
    if text:
        input_column = text_column
    for i, (inp, labels) in enumerate(zip(inputs, lists, strict=True)):
        if not isinstance(inp, str):
            raise TypeError(f"{what} {i} is {type(inp).__name__}, expected str")
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

"""Reading text data files with errors that name the file and the line.

Every reader of a text source goes through these helpers, so a malformed file is reported the
same way everywhere: a :class:`~labelsphere.data.dataset.DataFormatError` naming the file, the
1-based physical line and what was expected there.

* :func:`open_text` -- a UTF-8 text stream (gzip-compressed when the name ends in ``.gz``);
  :func:`decoding` does the same for any binary stream, such as a zip member.
* :func:`iter_lines` -- (line number, line) pairs.
* :func:`read_csv` -- a CSV header with its required columns, then (line, fields) records.
* :func:`iter_jsonl` -- JSON-lines objects with their required keys; :func:`require_str` and
  :func:`require_str_list` check a value's type; :func:`is_str_list` tests it.
* :func:`read_json` -- one whole JSON document.
* :func:`split_labels` -- a ``sep``-joined label field into label names.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from io import TextIOWrapper
from pathlib import Path
from typing import IO, Any

from labelsphere.data.dataset import DataFormatError

__all__ = [
    "decoding",
    "is_str_list",
    "iter_jsonl",
    "iter_lines",
    "open_text",
    "read_csv",
    "read_json",
    "require_str",
    "require_str_list",
    "split_labels",
]


# ====================================================================== text streams and lines
@contextmanager
def open_text(path: str | Path, newline: str | None = "") -> Iterator[IO[str]]:
    """Open a UTF-8 text file (gzip-compressed if its name ends in ``.gz``) for reading.

    By default line ends are kept as they are (``newline=""``), as the ``csv`` module needs;
    ``newline=None`` turns each into ``"\\n"``. Bytes that are not UTF-8 raise
    ``DataFormatError`` naming the file and the line that holds them.
    """
    path = Path(path)

    def open_binary() -> IO[bytes]:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")

    with decoding(open_binary, path, newline) as f:
        yield f


@contextmanager
def decoding(
    open_binary: Callable[[], IO[bytes]], where: str | Path, newline: str | None = ""
) -> Iterator[IO[str]]:
    """A UTF-8 text stream over ``open_binary()``; ``where`` names it in errors.

    ``open_binary`` is a callable rather than a stream because on a decoding error the source is
    read again from the start to find the line of the bad bytes (the decoder works on chunks,
    so the error itself does not say which line it was).
    """
    with open_binary() as raw, TextIOWrapper(raw, encoding="utf-8", newline=newline) as f:
        try:
            yield f
        except UnicodeDecodeError as e:
            line = _first_undecodable_line(open_binary)
            if line is None:  # this source decodes: the error came from something else
                raise
            raise DataFormatError(f"not UTF-8 text ({e.reason})", where, line) from None


def _first_undecodable_line(open_binary: Callable[[], IO[bytes]]) -> int | None:
    # Decoding line by line is exact: no UTF-8 multi-byte sequence contains a newline byte.
    with open_binary() as raw:
        for lineno, line in enumerate(raw, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its end-of-line) for a UTF-8 text file (maybe .gz)."""
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            yield lineno, line.rstrip("\r\n")


def split_labels(text: str, sep: str) -> list[str]:
    """The non-empty, stripped names in a ``sep``-joined label field."""
    return [t.strip() for t in text.split(sep) if t.strip()]


# ====================================================================== CSV
def read_csv(
    f: Iterable[str],
    where: str | Path,
    required: Sequence[str] = (),
    empty_message: str = "empty file (expected a header row)",
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Read the header of a CSV stream; return it and an iterator over the records after it.

    The header loses a leading UTF-8 byte order mark and must hold the ``required`` columns; an
    empty stream raises ``DataFormatError(empty_message)``. The iterator yields (physical line
    where the record starts, fields), skips blank lines, and raises ``DataFormatError`` at a
    record that is not valid CSV or has a different number of fields than the header. Errors
    name ``where``.
    """
    reader = csv.reader(f)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise DataFormatError(f"bad CSV header ({e})", where, 1) from None
    if header is None:
        raise DataFormatError(empty_message, where, 1)
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataFormatError(
            f"header should have columns {list(required)}, missing {missing} (header: {header})",
            where,
            1,
        )
    return header, _csv_records(reader, len(header), where)


def _csv_records(reader: Any, n_fields: int, where: str | Path) -> Iterator[tuple[int, list[str]]]:
    # reader.line_num counts physical lines read so far, so a record that spans several lines
    # (a quoted newline) starts one line after the previous record ended.
    prev = reader.line_num
    while True:
        start = prev + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataFormatError(f"bad CSV record ({e})", where, start) from None
        prev = reader.line_num
        if not row:
            continue  # blank line
        if len(row) != n_fields:
            raise DataFormatError(
                f"expected {n_fields} fields like the header, found {len(row)}", where, start
            )
        yield start, row


# ====================================================================== JSON lines and JSON
def iter_jsonl(path: str | Path, required: Sequence[str] = ()) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line of a JSON-lines file (maybe .gz).

    Each line must be a JSON object holding the ``required`` keys.
    """
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(
                f"expected one JSON object per line ({e.msg} at column {e.colno})", path, lineno
            ) from None
        if not isinstance(obj, dict):
            raise DataFormatError(f"expected a JSON object, got {type(obj).__name__}", path, lineno)
        missing = [k for k in required if k not in obj]
        if missing:
            raise DataFormatError(f"object is missing keys {missing}", path, lineno)
        yield lineno, obj


def is_str_list(value: Any) -> bool:
    """Whether ``value`` is a JSON list of strings."""
    return isinstance(value, list) and all(isinstance(t, str) for t in value)


def require_str(obj: dict, key: str, path: str | Path, lineno: int) -> str:
    """``obj[key]``, which must be a string."""
    value = obj[key]
    if not isinstance(value, str):
        raise DataFormatError(
            f"{key!r} should be a string, got {type(value).__name__}", path, lineno
        )
    return value


def require_str_list(obj: dict, key: str, path: str | Path, lineno: int) -> list[str]:
    """``obj[key]``, which must be a list of strings."""
    value = obj[key]
    if not is_str_list(value):
        raise DataFormatError(
            f"{key!r} should be a list of strings, got {value!r:.80}", path, lineno
        )
    return value


def read_json(path: str | Path) -> Any:
    """The JSON document in a UTF-8 file; invalid JSON names the line where parsing failed."""
    # Universal newlines, so that json's line count (of "\n") counts every kind of line end.
    with open_text(path, newline=None) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFormatError(f"not valid JSON ({e.msg})", path, e.lineno) from None

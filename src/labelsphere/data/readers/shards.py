"""Label sets from many files ("shards") in one streaming pass, in bounded memory.

:func:`iter_label_shards` reads only labels -- no inputs, no features -- so that co-occurrence
counts (:func:`labelsphere.counting.count_shards`) can be taken over data sets far larger than
memory. Formats, chosen by file name:

* JSON lines (``.jsonl``, ``.ndjson``, maybe ``.gz``): one object per line with the labels under
  ``field``, a list of strings or one ``sep``-joined string. Blank lines are skipped.
* CSV (``.csv``, maybe ``.gz``): a header row with a ``field`` column holding ``sep``-joined names.
* Parquet (``.parquet``, ``.pq``): a ``field`` column of ``list<string>`` or of ``sep``-joined
  strings; read a row group at a time with pyarrow (imported only when a Parquet file comes).

A directory stands for the files in it with one of these suffixes, in name order. Names are
stripped and empty ones dropped, as everywhere in labelsphere (:func:`split_labels`); a sample
with no labels is an empty list (it still counts as a sample). Every malformed row raises
:class:`~labelsphere.data.dataset.DataFormatError` naming the file and the line (the row, for
Parquet).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from labelsphere.data.dataset import DataFormatError
from labelsphere.data.text import iter_jsonl, open_text, read_csv, split_labels

__all__ = ["SHARD_SUFFIXES", "iter_label_shards", "shard_files", "shard_kind"]

SHARD_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet", ".pq")


def shard_kind(path: str | Path) -> str:
    """``"jsonl"``, ``"csv"`` or ``"parquet"`` from the file name; ``ValueError`` otherwise."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".jsonl", ".ndjson"):
        return "jsonl"
    if kind == ".csv":
        return "csv"
    if kind in (".parquet", ".pq") and not gz:
        return "parquet"
    raise ValueError(
        f"{path}: expected a .jsonl, .ndjson or .csv file (optionally .gz), or a .parquet file"
    )


def shard_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The shard files named by ``paths``: files as given, directories expanded (name order)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            inside = sorted(
                f
                for f in p.iterdir()
                if f.is_file() and _has_shard_suffix(f) and not f.name.startswith(".")
            )
            if not inside:
                raise FileNotFoundError(f"{p}: no label shard files ({', '.join(SHARD_SUFFIXES)})")
            files.extend(inside)
        elif p.is_file():
            shard_kind(p)  # an unknown format is an error before anything is read
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
    if not files:
        raise ValueError("no shard files given")
    return files


def _has_shard_suffix(path: Path) -> bool:
    try:
        shard_kind(path)
    except ValueError:
        return False
    return True


def iter_label_shards(
    paths: str | Path | Iterable[str | Path],
    field: str = "labels",
    sep: str = "|",
    batch_size: int = 65_536,
) -> Iterator[list[list[str]]]:
    """Yield batches of label sets (lists of names), reading the shard files one after another.

    Parameters
    ----------
    paths : a file, a directory, or several of them
        See the module docstring for the formats.
    field : str, default="labels"
        The JSON key, CSV column or Parquet column holding each sample's labels.
    sep : str, default="|"
        Separator of the names in a joined label string.
    batch_size : int, default=65536
        Samples per yielded batch (the last of all may be shorter; batches span files).
        Memory is bounded by one batch plus one Parquet row group.

    Yields
    ------
    list of list of str
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch: list[list[str]] = []
    for path in shard_files(paths):
        for labels in iter_shard_file(path, field, sep):
            batch.append(labels)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def iter_shard_file(path: str | Path, field: str = "labels", sep: str = "|") -> Iterator[list[str]]:
    """The label sets of one shard file, one list of names per sample."""
    path = Path(path)
    kind = shard_kind(path)
    if kind == "jsonl":
        yield from _iter_jsonl(path, field, sep)
    elif kind == "csv":
        yield from _iter_csv(path, field, sep)
    else:
        yield from _iter_parquet(path, field, sep)


def _iter_jsonl(path: Path, field: str, sep: str) -> Iterator[list[str]]:
    for lineno, obj in iter_jsonl(path, required=(field,)):
        yield _labels_of(obj[field], path, lineno, field, sep)


def _labels_of(value: object, path: Path, lineno: int, field: str, sep: str) -> list[str]:
    if isinstance(value, str):
        return split_labels(value, sep)
    if isinstance(value, list):
        try:  # the hot path: one pass; in JSON only strings have .strip()
            names = [t.strip() for t in value]
        except AttributeError:
            names = None
        if names is not None:
            return [t for t in names if t] if "" in names else names
    raise DataFormatError(
        f"{field!r} should be a list of strings or a {sep!r}-joined string, got {value!r:.80}",
        path,
        lineno,
    )


def _iter_csv(path: Path, field: str, sep: str) -> Iterator[list[str]]:
    with open_text(path) as f:
        header, records = read_csv(f, path, required=(field,))
        col = header.index(field)
        for _, row in records:
            yield split_labels(row[col], sep)


def _iter_parquet(path: Path, field: str, sep: str) -> Iterator[list[str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise ImportError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    import pyarrow as pa

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DataFormatError(f"not a readable Parquet file ({e})", path) from None
    names = pf.schema_arrow.names
    if field not in names:
        raise DataFormatError(f"no column {field!r} (columns: {names})", path)
    typ = pf.schema_arrow.field(field).type
    is_list = pa.types.is_list(typ) or pa.types.is_large_list(typ)
    item = typ.value_type if is_list else typ
    if not (pa.types.is_string(item) or pa.types.is_large_string(item)):
        raise DataFormatError(f"column {field!r} should be list<string> or string, got {typ}", path)
    row = 0
    for rg in range(pf.num_row_groups):
        try:
            values = pf.read_row_group(rg, columns=[field]).column(0).to_pylist()
        except (pa.ArrowException, OSError) as e:
            raise DataFormatError(f"unreadable row group {rg} ({e})", path, row + 1) from None
        for value in values:
            row += 1
            if value is None:
                raise DataFormatError(f"{field!r} is null (row {row})", path, row)
            if is_list:
                if any(t is None for t in value):
                    raise DataFormatError(f"{field!r} holds a null name (row {row})", path, row)
                yield [t.strip() for t in value if t.strip()]
            else:
                yield split_labels(value, sep)

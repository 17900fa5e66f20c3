"""Reading multi-label datasets: generic file formats and the shared real datasets.

Every reader returns a :class:`MultiLabelDataset` (inputs ``X``, multi-hot labels ``Y`` as CSR
int8, the :class:`~labelsphere.labels.LabelVocabulary` naming ``Y``'s columns). A malformed file
raises :class:`DataFormatError` naming the file, the line and what was expected.

Generic formats
    * :func:`read_mulan` -- Mulan ARFF (dense or sparse rows) + XML label list.
    * :func:`read_xc` -- Extreme Classification Repository text format.
    * :func:`read_features` -- ``.npy`` / ``.npz`` features + one line of labels per sample.
    * :func:`read_items` / :func:`write_items` -- "items with labels" CSV or JSONL files.
    * :func:`read_yolo` -- YOLO object-detection layout reduced to image-level labels.

Shared datasets
    :func:`load_dataset` reads the datasets listed in :data:`DATASETS` from the data directory
    chosen by :func:`get_data_dir` (argument > ``$LABELSPHERE_DATA`` > ``~/labelsphere_data``).
    Nothing is ever downloaded.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import scipy.sparse as sp

from labelsphere.artifacts import atomic_write_text
from labelsphere.labels import LabelVocabulary, UnknownLabelError, check_multihot

__all__ = [
    "DATASETS",
    "DataFormatError",
    "MultiLabelDataset",
    "get_data_dir",
    "load_dataset",
    "read_features",
    "read_items",
    "read_mulan",
    "read_xc",
    "read_yolo",
    "write_items",
]

DATA_ENV = "LABELSPHERE_DATA"
DEFAULT_DATA_DIR = "~/labelsphere_data"

Features = np.ndarray | sp.csr_matrix | list[str] | None
UnknownPolicy = Literal["error", "ignore"]


# ====================================================================== errors and data dir
class DataFormatError(ValueError):
    """A data file does not follow its format.

    The message names the file, the (1-based, physical) line number when there is one, and
    what was expected there. ``path`` and ``line`` are also available as attributes.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        if path is not None:
            where = f"{path}, line {line}" if line is not None else f"{path}"
            message = f"{where}: {message}"
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.line = line


def get_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the directory holding the datasets.

    The explicit ``data_dir`` argument wins, then the ``LABELSPHERE_DATA`` environment variable,
    then ``~/labelsphere_data`` (like scikit-learn's ``data_home``). Raises
    ``FileNotFoundError`` explaining how to point labelsphere at the data when the chosen
    directory does not exist. Nothing is created or downloaded.
    """
    if data_dir is not None:
        source = "the data_dir argument"
        path = Path(data_dir)
    elif os.environ.get(DATA_ENV):
        source = f"${DATA_ENV}"
        path = Path(os.environ[DATA_ENV])
    else:
        source = "the default location"
        path = Path(DEFAULT_DATA_DIR)
    path = path.expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data directory {path} (from {source}) does not exist; pass data_dir=..., set the "
            f"{DATA_ENV} environment variable, or put the datasets in {DEFAULT_DATA_DIR}"
        )
    return path


# ====================================================================== the dataset container
@dataclass(eq=False)
class MultiLabelDataset:
    """A multi-label dataset: inputs, multi-hot labels and the vocabulary naming the labels.

    Attributes
    ----------
    X : ndarray (n, D) float32, CSR (n, D) float32, list of str, or None
        Features (dense or sparse), item inputs such as absolute image paths, or ``None`` for
        label-only data.
    Y : CSR matrix (n, L) int8
        Multi-hot labels; column ``j`` is ``vocabulary.names[j]``.
    vocabulary : LabelVocabulary
    name : str
        A short name, e.g. ``"bibtex/train"``.
    ids : list of str or None
        Sample identifiers when the source has them (not necessarily unique).
    info : dict
        Anything else worth knowing about how the data was read (source paths, rows dropped...).
    """

    X: Features
    Y: sp.csr_matrix
    vocabulary: LabelVocabulary
    name: str
    ids: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.vocabulary, LabelVocabulary):
            raise TypeError(
                f"vocabulary must be a LabelVocabulary, got {type(self.vocabulary).__name__}"
            )
        self.Y = check_multihot(self.Y, n_labels=len(self.vocabulary))
        n = self.Y.shape[0]
        X = self.X
        if X is None:
            pass
        elif sp.issparse(X):
            X = sp.csr_matrix(X)
            if X.dtype != np.float32:
                X = X.astype(np.float32)
            self.X = X
            _check_rows("X", X.shape[0], n)
        elif isinstance(X, np.ndarray):
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
            if X.dtype != np.float32:
                self.X = X.astype(np.float32)
            _check_rows("X", X.shape[0], n)
        elif isinstance(X, list):
            bad = next((i for i, x in enumerate(X) if not isinstance(x, str)), None)
            if bad is not None:
                raise TypeError(f"X[{bad}] is {type(X[bad]).__name__}; list inputs must be str")
            _check_rows("X", len(X), n)
        else:
            raise TypeError(
                "X must be a 2-D ndarray, a scipy sparse matrix, a list of str or None, "
                f"got {type(X).__name__}"
            )
        if self.ids is not None:
            self.ids = [str(i) for i in self.ids]
            _check_rows("ids", len(self.ids), n)

    def __len__(self) -> int:
        return self.Y.shape[0]

    def __repr__(self) -> str:
        if self.X is None:
            x = "None"
        elif isinstance(self.X, list):
            x = f"list[str] of {len(self.X)}"
        else:
            kind = "CSR" if sp.issparse(self.X) else "ndarray"
            x = f"{kind} {self.X.shape[0]}x{self.X.shape[1]}"
        return (
            f"MultiLabelDataset(name={self.name!r}, n_samples={len(self)}, X={x}, "
            f"n_labels={self.n_labels}, cardinality={self.cardinality:.2f})"
        )

    @property
    def n_labels(self) -> int:
        return len(self.vocabulary)

    @property
    def n_features(self) -> int | None:
        """Number of feature columns, or ``None`` when X is not a feature matrix."""
        if self.X is None or isinstance(self.X, list):
            return None
        return int(self.X.shape[1])

    @property
    def cardinality(self) -> float:
        """Mean number of labels per sample."""
        return float(self.Y.nnz / len(self)) if len(self) else 0.0

    def labels(self) -> list[list[str]]:
        """Each sample's label names, in vocabulary order."""
        return self.vocabulary.decode(self.Y)

    def subset(self, indices: Sequence[int] | np.ndarray) -> MultiLabelDataset:
        """A new dataset with the given rows (integer indices or a boolean mask), in that order.

        The vocabulary object is shared with this dataset; ``info`` is copied.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.int64)
        elif not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers or a boolean mask, got dtype {idx.dtype}")
        idx = idx.reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset index out of range for a dataset of {len(self)} samples")
        X = self.X
        if isinstance(X, list):
            X = [X[i] for i in idx]
        elif X is not None:
            X = X[idx]
        ids = None if self.ids is None else [self.ids[i] for i in idx]
        return MultiLabelDataset(
            X=X,
            Y=self.Y[idx],
            vocabulary=self.vocabulary,
            name=self.name,
            ids=ids,
            info=dict(self.info),
        )


def _check_rows(what: str, got: int, n: int) -> None:
    if got != n:
        raise ValueError(f"{what} has {got} rows but Y has {n}; they must agree")


def _csr_from_coo(
    rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """A binary CSR int8 matrix with ones at (rows, cols); duplicates count once."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    Y = sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=shape)
    Y.sum_duplicates()
    Y.data[:] = 1
    return Y


def _lines(path: Path, start: int = 1) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its end-of-line) for a UTF-8 text file (maybe .gz)."""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start):
            yield lineno, line.rstrip("\r\n")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


# ====================================================================== Mulan ARFF + XML
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_MAX_XML_BYTES = 64 * 1024 * 1024
_NUMERIC_TYPES = {"numeric", "real", "integer"}


def _unescape(s: str) -> str:
    r"""Undo Weka/Mulan backslash escaping: ``\'`` -> ``'``, ``\\`` -> ``\``, ``\n`` -> newline."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(_ESCAPES.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return _unescape(s[1:-1])
    return _unescape(s)


def _split_nominal(body: str) -> list[str]:
    """Split the inside of ``{a,'b,c',d}`` at commas outside quotes."""
    values, cur, quote, i = [], [], "", 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            cur.append(body[i : i + 2])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == ",":
            values.append(_unquote("".join(cur)))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    values.append(_unquote("".join(cur)))
    return values


@dataclass
class _Attribute:
    name: str
    kind: str  # "numeric", "nominal" or the unsupported type's keyword
    values: list[str] | None
    line: int


def _parse_attribute(line: str, path: Path, lineno: int) -> _Attribute:
    rest = line.strip()[len("@attribute") :].lstrip()
    if not rest:
        raise DataFormatError("expected '@attribute <name> <type>'", path, lineno)
    if rest[0] in "'\"":
        q, i = rest[0], 1
        while i < len(rest):
            if rest[i] == "\\":
                i += 2
                continue
            if rest[i] == q:
                break
            i += 1
        else:
            raise DataFormatError(f"unterminated quoted attribute name {rest!r}", path, lineno)
        raw, type_str = rest[1:i], rest[i + 1 :].strip()
    else:
        parts = rest.split(None, 1)
        raw, type_str = parts[0], parts[1].strip() if len(parts) > 1 else ""
        if "{" in raw:  # "@attribute a{0,1}"
            raw, _, tail = raw.partition("{")
            type_str = "{" + tail + (" " + type_str if type_str else "")
    name = _unescape(raw)
    if not name:
        raise DataFormatError("empty attribute name", path, lineno)
    if type_str.startswith("{"):
        if not type_str.endswith("}"):
            raise DataFormatError(
                f"nominal type of attribute {name!r} should end with '}}', got {type_str!r}",
                path,
                lineno,
            )
        return _Attribute(name, "nominal", _split_nominal(type_str[1:-1]), lineno)
    kind = type_str.split(None, 1)[0].lower() if type_str else ""
    if not kind:
        raise DataFormatError(f"attribute {name!r} has no type", path, lineno)
    return _Attribute(name, "numeric" if kind in _NUMERIC_TYPES else kind, None, lineno)


def _read_mulan_xml(xml_path: Path) -> list[str]:
    """Label names, in document order, from a Mulan label XML file.

    The stdlib ``xml.etree.ElementTree`` parser never fetches external entities; as extra care
    against entity-expansion tricks a file with a DOCTYPE/ENTITY declaration or larger than
    64 MiB is refused (real Mulan label files are small and have neither).
    """
    import xml.etree.ElementTree as ET

    size = xml_path.stat().st_size
    if size > _MAX_XML_BYTES:
        raise DataFormatError(f"label XML is {size} bytes; refusing files over 64 MiB", xml_path)
    data = xml_path.read_bytes()
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        pos = data.find(marker)
        if pos >= 0:
            line = data.count(b"\n", 0, pos) + 1
            raise DataFormatError(
                "DTD/entity declarations are not allowed in a Mulan label file", xml_path, line
            )
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise DataFormatError(
            f"not well-formed XML ({e.msg if hasattr(e, 'msg') else e})", xml_path, e.position[0]
        ) from None
    names = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] != "label":
            continue
        name = el.get("name")
        if not name:
            raise DataFormatError('expected <label name="..."> with a non-empty name', xml_path)
        names.append(_unescape(name))
    if not names:
        raise DataFormatError('expected at least one <label name="..."> element', xml_path)
    dup = [n for n, c in Counter(names).items() if c > 1]
    if dup:
        raise DataFormatError(f"duplicate label names {dup[:5]}", xml_path)
    return names


def read_mulan(
    arff_path: str | Path,
    xml_path: str | Path,
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    name: str | None = None,
) -> MultiLabelDataset:
    """Read a Mulan multi-label dataset: an ARFF file plus the XML file listing the labels.

    Label attributes are those named in the XML (anywhere in the ARFF, not necessarily last),
    and must be nominal ``{0,1}``; every other attribute is a numeric feature (nominal features
    with numeric values are read as numbers, other nominal features as their value's index;
    a missing value ``?`` is NaN for a feature and "absent" for a label). Attribute names may be
    quoted and use backslash escapes (``TAG_m\\'usica``); names from the ARFF and the XML are
    unescaped the same way before they are matched.

    Rows may be dense (``0,1,0.5,...``) or sparse (``{3 1,17 0.5}``). ``X`` is CSR float32 if
    any row is sparse, otherwise a dense float32 array.

    The vocabulary is the XML's labels in XML order, unless ``vocabulary`` is given: then labels
    are encoded into it, and a label not in it raises ``UnknownLabelError`` (``unknown="error"``)
    or is dropped (``unknown="ignore"``).
    """
    arff_path, xml_path = Path(arff_path), Path(xml_path)
    label_names = _read_mulan_xml(xml_path)
    attrs, relation, data_line = _read_arff_header(arff_path)
    index = {}
    for j, a in enumerate(attrs):
        if a.name in index:
            raise DataFormatError(
                f"duplicate attribute name {a.name!r} (first on line {attrs[index[a.name]].line})",
                arff_path,
                a.line,
            )
        index[a.name] = j
    missing = [n for n in label_names if n not in index]
    if missing:
        raise DataFormatError(
            f"{len(missing)} labels named in {xml_path.name} are not ARFF attributes, "
            f"e.g. {missing[:3]}",
            arff_path,
        )
    n_attrs = len(attrs)
    label_col = [-1] * n_attrs
    for k, n in enumerate(label_names):
        a = attrs[index[n]]
        if a.kind != "nominal" or sorted(a.values or []) != ["0", "1"]:
            raise DataFormatError(
                f"label attribute {n!r} should be nominal {{0,1}}", arff_path, a.line
            )
        label_col[index[n]] = k
    feat_col = [-1] * n_attrs
    feat_map: list[dict[str, float] | None] = [None] * n_attrs
    n_feat = 0
    for j, a in enumerate(attrs):
        if label_col[j] >= 0:
            continue
        if a.kind == "nominal":
            vals = a.values or []
            try:
                feat_map[j] = {v: float(v) for v in vals}
            except ValueError:
                feat_map[j] = {v: float(i) for i, v in enumerate(vals)}
        elif a.kind != "numeric":
            raise DataFormatError(
                f"feature attribute {a.name!r} has type {a.kind!r}; only numeric and nominal "
                "features are supported",
                arff_path,
                a.line,
            )
        feat_col[j] = n_feat
        n_feat += 1

    X, Y = _read_arff_data(
        arff_path, data_line, attrs, feat_col, feat_map, label_col, n_feat, len(label_names)
    )
    names_vocab = LabelVocabulary(label_names)
    if vocabulary is not None:
        Y = _remap_columns(Y, label_names, vocabulary, unknown, arff_path)
        vocab = vocabulary
    else:
        vocab = names_vocab
    info = {
        "arff": str(arff_path),
        "xml": str(xml_path),
        "relation": relation,
        "feature_names": [a.name for j, a in enumerate(attrs) if feat_col[j] >= 0],
    }
    return MultiLabelDataset(X=X, Y=Y, vocabulary=vocab, name=name or arff_path.stem, info=info)


def _remap_columns(
    Y: sp.csr_matrix, names: list[str], vocabulary: LabelVocabulary, unknown: str, path: Path
) -> sp.csr_matrix:
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
    target = np.array([vocabulary._index.get(n, -1) for n in names], dtype=np.int64)
    coo = Y.tocoo()
    new = target[coo.col]
    lost = new < 0
    if lost.any():
        if unknown == "error":
            first = names[int(coo.col[np.flatnonzero(lost)[0]])]
            raise UnknownLabelError(
                f"{path}: label {first!r} occurs in {int(lost.sum())} places but is not in the "
                f"vocabulary ({len(vocabulary)} labels); pass unknown='ignore' to drop it"
            )
        vocabulary.n_unknown_ += int(lost.sum())
    keep = ~lost
    return _csr_from_coo(coo.row[keep], new[keep], (Y.shape[0], len(vocabulary)))


def _read_arff_header(path: Path) -> tuple[list[_Attribute], str, int]:
    """Parse an ARFF header; return (attributes, relation name, line number of @data)."""
    attrs: list[_Attribute] = []
    relation = ""
    for lineno, line in _lines(path):
        s = line.strip()
        if not s or s.startswith("%"):
            continue
        low = s[:11].lower()
        if low.startswith("@relation"):
            relation = _unquote(s[len("@relation") :])
        elif low.startswith("@attribute"):
            attrs.append(_parse_attribute(s, path, lineno))
        elif low.startswith("@data"):
            if not attrs:
                raise DataFormatError("@data before any @attribute", path, lineno)
            return attrs, relation, lineno
        else:
            raise DataFormatError(
                f"expected @relation, @attribute or @data in the header, got {s[:40]!r}",
                path,
                lineno,
            )
    raise DataFormatError("no @data line (expected an ARFF header followed by @data)", path)


def _read_arff_data(
    path: Path,
    data_line: int,
    attrs: list[_Attribute],
    feat_col: list[int],
    feat_map: list[dict[str, float] | None],
    label_col: list[int],
    n_feat: int,
    n_labels: int,
) -> tuple[np.ndarray | sp.csr_matrix, sp.csr_matrix]:
    n_attrs = len(attrs)
    f_rows: list[int] = []
    f_cols: list[int] = []
    f_vals: list[float] = []
    l_rows: list[int] = []
    l_cols: list[int] = []
    dense: list[tuple[int, int, list[str]]] = []  # (row, line, fields)
    n = 0
    any_sparse = False

    def bad_value(v: str, j: int, lineno: int) -> float | None:
        """Slow path for a value that is not a plain number / 0 / 1."""
        u = _unquote(v)
        if label_col[j] >= 0:
            if u in ("0", "?"):
                return None
            if u == "1":
                return 1.0
            raise DataFormatError(
                f"label {attrs[j].name!r} should be 0 or 1, got {v!r}", path, lineno
            )
        if u == "?":
            return float("nan")
        m = feat_map[j]
        try:
            return m[u] if m is not None else float(u)
        except (KeyError, ValueError):
            expected = f"one of {attrs[j].values}" if m is not None else "a number"
            raise DataFormatError(
                f"feature {attrs[j].name!r} should be {expected}, got {v!r}", path, lineno
            ) from None

    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if lineno <= data_line:
                continue
            s = line.strip()
            if not s or s[0] == "%":
                continue
            if s[0] != "{":
                fields = s.split(",")
                if len(fields) != n_attrs:
                    raise DataFormatError(
                        f"expected {n_attrs} comma-separated values (or a sparse row "
                        f"'{{index value, ...}}'), found {len(fields)}",
                        path,
                        lineno,
                    )
                dense.append((n, lineno, fields))
                n += 1
                continue
            any_sparse = True
            if s[-1] != "}":
                raise DataFormatError(
                    "sparse row should end with '}' (truncated row?)", path, lineno
                )
            body = s[1:-1]
            if body.strip():
                for item in body.split(","):
                    parts = item.split()
                    if len(parts) != 2:
                        raise DataFormatError(
                            f"bad sparse entry {item.strip()!r} (expected '<index> <value>')",
                            path,
                            lineno,
                        )
                    try:
                        j = int(parts[0])
                    except ValueError:
                        raise DataFormatError(
                            f"bad sparse entry {item.strip()!r} (expected an integer "
                            "attribute index before the value)",
                            path,
                            lineno,
                        ) from None
                    if not 0 <= j < n_attrs:
                        raise DataFormatError(
                            f"bad sparse entry {item.strip()!r}: attribute index {j} is outside "
                            f"[0, {n_attrs})",
                            path,
                            lineno,
                        )
                    v = parts[1]
                    k = label_col[j]
                    if k >= 0:
                        if v == "1" or (v != "0" and bad_value(v, j, lineno) is not None):
                            l_rows.append(n)
                            l_cols.append(k)
                        continue
                    m = feat_map[j]
                    try:
                        x = float(v) if m is None else m[v]
                    except (ValueError, KeyError):
                        x = bad_value(v, j, lineno)  # type: ignore[assignment]
                    if x != 0.0:
                        f_rows.append(n)
                        f_cols.append(feat_col[j])
                        f_vals.append(x)
            n += 1

    Y = _csr_from_coo(l_rows, l_cols, (n, n_labels))
    feat_idx = [j for j in range(n_attrs) if feat_col[j] >= 0]
    lab_idx = [j for j in range(n_attrs) if label_col[j] >= 0]
    if dense:
        Xd, Yd = _convert_dense(dense, feat_idx, lab_idx, bad_value)
        rows = np.array([r for r, _, _ in dense], dtype=np.int64)
        yr, yc = np.nonzero(Yd)
        lab_pos = np.array([label_col[j] for j in lab_idx], dtype=np.int64)
        Y = Y + _csr_from_coo(rows[yr], lab_pos[yc], (n, n_labels))
        Y.data[:] = 1
    if any_sparse or not dense:
        X = sp.csr_matrix(
            (
                np.asarray(f_vals, dtype=np.float32),
                (np.asarray(f_rows, dtype=np.int64), np.asarray(f_cols, dtype=np.int64)),
            ),
            shape=(n, n_feat),
        )
        if dense:
            X = X.tolil()
            X[rows] = Xd
            X = X.tocsr()
        X.sum_duplicates()
        X.eliminate_zeros()
        return X, Y.tocsr()
    return Xd, Y.tocsr()


def _convert_dense(
    dense: list[tuple[int, int, list[str]]],
    feat_idx: list[int],
    lab_idx: list[int],
    bad_value: Callable[[str, int, int], float | None],
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised conversion of dense ARFF rows to (features float32, labels bool)."""
    arr = np.array([fields for _, _, fields in dense], dtype=str)
    lines = [ln for _, ln, _ in dense]
    Xd = np.empty((len(dense), len(feat_idx)), dtype=np.float32)
    block = arr[:, feat_idx]
    try:
        Xd[:] = block.astype(np.float32)
    except ValueError:  # nominal strings, missing values, quotes or garbage: column by column
        for c, j in enumerate(feat_idx):
            col = block[:, c]
            try:
                Xd[:, c] = col.astype(np.float32)
            except ValueError:
                for r, v in enumerate(col):
                    Xd[r, c] = bad_value(str(v), j, lines[r])
    lab = np.char.strip(arr[:, lab_idx])
    Yd = lab == "1"
    odd = np.argwhere(~(Yd | (lab == "0")))
    for r, c in odd:
        Yd[r, c] = bad_value(str(lab[r, c]), lab_idx[c], lines[r]) is not None
    return Xd, Yd


# ====================================================================== XC repository format
def read_xc(path: str | Path, name: str | None = None) -> MultiLabelDataset:
    """Read the Extreme Classification Repository text format.

    The first line is ``N D L``; each following line is one sample,
    ``l1,l2,... f:v f:v ...`` with 0-based label and feature indices (a sample without labels
    starts with a space). ``X`` is CSR float32 (N, D); label names are the indices as strings
    (``"0"`` ... ``str(L-1)``).
    """
    path = Path(path)
    it = _lines(path)
    first = next(it, None)
    if first is None:
        raise DataFormatError("empty file (expected a header line 'N D L')", path, 1)
    head = first[1].split()
    try:
        n_rows, n_feat, n_labels = (int(t) for t in head)
        if min(n_rows, n_feat, n_labels) < 0:
            raise ValueError
    except ValueError:
        raise DataFormatError(
            f"expected a header line 'N D L' of three non-negative integers, got {first[1]!r}",
            path,
            1,
        ) from None
    f_rows: list[int] = []
    f_cols: list[int] = []
    f_vals: list[float] = []
    l_rows: list[int] = []
    l_cols: list[int] = []
    n = 0
    for lineno, line in it:
        if n >= n_rows:
            if line.strip():
                raise DataFormatError(
                    f"more samples than the {n_rows} announced in the header", path, lineno
                )
            continue
        if line and not line[0].isspace():
            tok, _, rest = line.partition(" ")
            if ":" in tok:  # no labels and no leading space
                tok, rest = "", line
        else:
            tok, rest = "", line
        if tok:
            for t in tok.split(","):
                try:
                    k = int(t)
                except ValueError:
                    raise DataFormatError(
                        f"bad label index {t!r} (expected comma-separated integers, then "
                        "'feature:value' pairs)",
                        path,
                        lineno,
                    ) from None
                if not 0 <= k < n_labels:
                    raise DataFormatError(
                        f"label index {k} is outside [0, {n_labels})", path, lineno
                    )
                l_rows.append(n)
                l_cols.append(k)
        for t in rest.split():
            fi, sep, fv = t.partition(":")
            try:
                if not sep:
                    raise ValueError
                j, x = int(fi), float(fv)
            except ValueError:
                raise DataFormatError(
                    f"bad feature entry {t!r} (expected 'index:value')", path, lineno
                ) from None
            if not 0 <= j < n_feat:
                raise DataFormatError(f"feature index {j} is outside [0, {n_feat})", path, lineno)
            f_rows.append(n)
            f_cols.append(j)
            f_vals.append(x)
        n += 1
    if n != n_rows:
        raise DataFormatError(
            f"the header announces {n_rows} samples but the file has {n} (truncated file?)",
            path,
            1,
        )
    X = sp.csr_matrix(
        (
            np.asarray(f_vals, dtype=np.float32),
            (np.asarray(f_rows, dtype=np.int64), np.asarray(f_cols, dtype=np.int64)),
        ),
        shape=(n_rows, n_feat),
    )
    X.sum_duplicates()
    Y = _csr_from_coo(l_rows, l_cols, (n_rows, n_labels))
    vocab = LabelVocabulary([str(k) for k in range(n_labels)])
    return MultiLabelDataset(
        X=X, Y=Y, vocabulary=vocab, name=name or path.stem, info={"path": str(path)}
    )


# ====================================================================== features + label lines
def _read_label_lines(path: Path, sep: str = ",") -> list[list[str]]:
    """One sample per line, label names separated by ``sep``; an empty line is no labels."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        out.append([t.strip() for t in line.rstrip("\r").split(sep) if t.strip()])
    return out


def _encode(
    label_lists: list[list[str]],
    vocabulary: LabelVocabulary | None,
    unknown: UnknownPolicy,
    min_count: int = 1,
) -> tuple[sp.csr_matrix, LabelVocabulary]:
    if vocabulary is None:
        vocabulary = LabelVocabulary.from_lists(label_lists, min_count=min_count)
        if min_count > 1:
            unknown = "ignore"
    return vocabulary.encode(label_lists, unknown=unknown), vocabulary


def read_features(
    features_path: str | Path,
    labels_path: str | Path,
    vocabulary: LabelVocabulary | None = None,
    unknown: UnknownPolicy = "error",
    name: str | None = None,
) -> MultiLabelDataset:
    """Read features from ``.npy`` (dense) or ``.npz`` (``scipy.sparse.save_npz``) and labels
    from a text file with one sample per line, label names separated by commas.

    Nothing is unpickled (``allow_pickle=False``). Without ``vocabulary`` one is built from the
    labels (``LabelVocabulary.from_lists``, most frequent first); with one, labels are encoded
    into it (``unknown`` as in ``LabelVocabulary.encode``).
    """
    features_path, labels_path = Path(features_path), Path(labels_path)
    suffix = features_path.suffix.lower()
    try:
        if suffix == ".npy":
            X: np.ndarray | sp.csr_matrix = np.load(features_path, allow_pickle=False)
            if X.ndim != 2:
                raise DataFormatError(f"expected a 2-D array, got shape {X.shape}", features_path)
            if not np.issubdtype(X.dtype, np.number):
                raise DataFormatError(f"expected a numeric array, got {X.dtype}", features_path)
            X = X.astype(np.float32, copy=False)
        elif suffix == ".npz":
            X = sp.load_npz(features_path).tocsr().astype(np.float32)
        else:
            raise ValueError(f"{features_path}: features must be a .npy or .npz file")
    except DataFormatError:
        raise
    except (OSError, ValueError, KeyError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        kind = "scipy.sparse.save_npz" if suffix == ".npz" else "numpy.save"
        raise DataFormatError(f"not a readable {kind} file ({e})", features_path) from None
    label_lists = _read_label_lines(labels_path)
    if len(label_lists) != X.shape[0]:
        raise DataFormatError(
            f"has {len(label_lists)} label lines but {features_path} has {X.shape[0]} feature "
            "rows; they must agree",
            labels_path,
            len(label_lists),
        )
    Y, vocab = _encode(label_lists, vocabulary, unknown)
    return MultiLabelDataset(
        X=X,
        Y=Y,
        vocabulary=vocab,
        name=name or features_path.stem,
        info={"features": str(features_path), "labels": str(labels_path)},
    )


# ====================================================================== items with labels
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


def _split_labels(v: str, sep: str) -> list[str]:
    return [t.strip() for t in v.split(sep) if t.strip()]


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
    Y, vocab = _encode(label_lists, vocabulary, unknown, min_count)
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
    with _open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except csv.Error as e:
            raise DataFormatError(f"bad CSV header ({e})", path, 1) from None
        if header is None:
            raise DataFormatError("empty file (expected a header row)", path, 1)
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        wanted = [input_column, labels_column] + ([id_column] if id_column else [])
        missing = [c for c in wanted if c not in header]
        if missing:
            raise DataFormatError(
                f"header should have columns {wanted}, missing {missing} (header: {header})",
                path,
                1,
            )
        ii, li = header.index(input_column), header.index(labels_column)
        di = header.index(id_column) if id_column else -1
        prev = reader.line_num
        while True:
            start = prev + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataFormatError(f"bad CSV record ({e})", path, start) from None
            prev = reader.line_num
            if not row:
                continue  # blank line
            if len(row) != len(header):
                raise DataFormatError(
                    f"expected {len(header)} fields like the header, found {len(row)}",
                    path,
                    start,
                )
            yield row[ii], _split_labels(row[li], sep), (row[di] if di >= 0 else None)


def _iter_jsonl_items(
    path: Path, input_column: str, labels_column: str, id_column: str | None, sep: str
) -> Iterator[tuple[str, list[str], str | None]]:
    for lineno, line in _lines(path):
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
        wanted = [input_column, labels_column] + ([id_column] if id_column else [])
        missing = [k for k in wanted if k not in obj]
        if missing:
            raise DataFormatError(f"object is missing keys {missing}", path, lineno)
        inp = obj[input_column]
        if not isinstance(inp, str):
            raise DataFormatError(
                f"{input_column!r} should be a string, got {type(inp).__name__}", path, lineno
            )
        raw = obj[labels_column]
        if isinstance(raw, str):
            labels = _split_labels(raw, sep)
        elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
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


# ====================================================================== YOLO layout
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_yolo(
    root: str | Path,
    split_dir: str = "train",
    names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiLabelDataset:
    """Read a YOLO object-detection folder as image-level multi-label data.

    Images are ``root/images/<split_dir>/*`` (jpg, png, ...), boxes
    ``root/labels/<split_dir>/<stem>.txt`` with one object per line, class index first. An
    image's labels are the set of classes of its objects; an image without a label file (or
    with an empty one) has no labels. Class names come from ``names`` or ``root/names.txt``
    (one per line, index order), and all of them form the vocabulary, in index order.
    ``X`` holds absolute image paths, sorted; ``ids`` the file stems.
    """
    root = Path(root).expanduser().resolve()
    if names is None:
        names_path = root / "names.txt"
        names = [ln.strip() for _, ln in _lines(names_path) if ln.strip()]
    vocab = LabelVocabulary(list(names))
    img_dir, lab_dir = root / "images" / split_dir, root / "labels" / split_dir
    if not img_dir.is_dir():
        raise FileNotFoundError(f"no image folder {img_dir}")
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    stems = {p.stem for p in images}
    rows: list[int] = []
    cols: list[int] = []
    n_with_file = 0
    for i, img in enumerate(images):
        lab = lab_dir / f"{img.stem}.txt"
        if not lab.is_file():
            continue
        n_with_file += 1
        for lineno, line in _lines(lab):
            parts = line.split()
            if not parts:
                continue
            try:
                k = int(parts[0])
                [float(t) for t in parts[1:]]
            except ValueError:
                raise DataFormatError(
                    f"expected '<class index> <x> <y> <w> <h>', got {line.strip()[:60]!r}",
                    lab,
                    lineno,
                ) from None
            if not 0 <= k < len(vocab):
                raise DataFormatError(
                    f"class index {k} is outside [0, {len(vocab)}) (names has {len(vocab)})",
                    lab,
                    lineno,
                )
            rows.append(i)
            cols.append(k)
    orphans = (
        sorted(p.stem for p in lab_dir.glob("*.txt") if p.stem not in stems)
        if lab_dir.is_dir()
        else []
    )
    Y = _csr_from_coo(rows, cols, (len(images), len(vocab)))
    info = {
        "root": str(root),
        "n_images": len(images),
        "n_images_without_label_file": len(images) - n_with_file,
        "label_files_without_image": orphans,
    }
    return MultiLabelDataset(
        X=[str(p) for p in images],
        Y=Y,
        vocabulary=vocab,
        name=name or f"{root.name}/{split_dir}",
        ids=[p.stem for p in images],
        info=info,
    )


# ====================================================================== the shared datasets
DATASETS: dict[str, str] = {
    "delicious": "web pages as 500 bag-of-words features, 983 tags (Mulan ARFF; train/test)",
    "bibtex": "BibTeX entries as 1,836 bag-of-words features, 159 tags (Mulan ARFF; train/test)",
    "corel5k": "images as 499 visual-word features, 374 keywords (Mulan ARFF; train/test)",
    "nus-wide-81-labels": "Flickr photos' 81 concepts, labels only (zipped CSV; train/test)",
    "debian-depends": "Debian packages' dependencies as label sets, labels only (JSONL; all)",
    "movie-posters": "film poster image paths, 25 genres (CSV + JPEG; train/val/test)",
    "tabler-icons": "line-icon SVG paths with free-form tags (JSON + SVG; seeded train/test)",
    "coco128": "128 COCO photos' paths, image-level labels of 80 classes (YOLO layout; all)",
}

_MULAN_FILES = {
    "delicious": ("delicious-{split}.arff", "delicious.xml"),
    "bibtex": ("bibtex-{split}.arff", "bibtex.xml"),
    "corel5k": ("Corel5k-{split}-sparse.arff", "Corel5k.xml"),
}

_SPLITS: dict[str, tuple[str, ...]] = {
    "delicious": ("train", "test"),
    "bibtex": ("train", "test"),
    "corel5k": ("train", "test"),
    "nus-wide-81-labels": ("train", "test"),
    "debian-depends": ("all",),
    "movie-posters": ("train", "val", "test"),
    "tabler-icons": ("train", "test", "all"),
    "coco128": ("all",),
}

_OPTIONS: dict[str, dict[str, Any]] = {
    "delicious": {},
    "bibtex": {},
    "corel5k": {},
    "nus-wide-81-labels": {"strict": False},
    "debian-depends": {"min_count": 1},
    "movie-posters": {},
    "tabler-icons": {"min_count": 5, "seed": 0, "test_size": 0.2},
    "coco128": {},
}


def dataset_splits(name: str) -> tuple[str, ...]:
    """The splits a shared dataset has, e.g. ``("train", "test")``."""
    if name not in _SPLITS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return _SPLITS[name]


def load_dataset(
    name: str, split: str | None = None, data_dir: str | Path | None = None, **options: Any
) -> MultiLabelDataset:
    """Load one of the shared datasets listed in :data:`DATASETS`.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    split : str, optional
        ``"train"``/``"test"`` (``"val"`` for movie-posters); ``"all"`` for the datasets without
        a split (debian-depends, coco128) and for every usable tabler icon. Default: ``"train"``
        where there is one, otherwise ``"all"``.
    data_dir : path, optional
        The folder holding the datasets (see :func:`get_data_dir`).
    **options
        Per dataset:

        * ``nus-wide-81-labels``: ``strict=False`` -- a cell that is not 0/1 (the real train
          file has one, on line 78,374) is read as 0, reported in ``info["invalid_cells"]``
          and warned about; ``strict=True`` raises ``DataFormatError`` instead.
        * ``debian-depends``: ``min_count=1`` -- dependencies seen fewer times are dropped.
        * ``tabler-icons``: ``min_count=5`` -- tags used by fewer icons (before the split) are
          dropped and icons left without tags are skipped; ``seed=0`` and ``test_size=0.2`` fix
          the random split.

    Returns
    -------
    MultiLabelDataset
        With ``info`` describing the source files and anything dropped.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    splits = _SPLITS[name]
    if split is None:
        split = "train" if "train" in splits else "all"
    if split not in splits:
        raise ValueError(f"dataset {name!r} has no split {split!r}; choose one of {list(splits)}")
    allowed = _OPTIONS[name]
    extra = sorted(set(options) - set(allowed))
    if extra:
        valid = sorted(allowed) if allowed else "none"
        raise TypeError(f"dataset {name!r} got unknown options {extra}; valid options: {valid}")
    opts = {**allowed, **options}
    folder = get_data_dir(data_dir) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    if name in _MULAN_FILES:
        arff, xml = _MULAN_FILES[name]
        return read_mulan(folder / arff.format(split=split), folder / xml, name=f"{name}/{split}")
    loader = {
        "nus-wide-81-labels": _load_nus_wide,
        "debian-depends": _load_debian,
        "movie-posters": _load_movie_posters,
        "tabler-icons": _load_tabler,
        "coco128": _load_coco128,
    }[name]
    return loader(folder, split, **opts)


def _load_nus_wide(folder: Path, split: str, strict: bool = False) -> MultiLabelDataset:
    """NUS-WIDE 81 concepts: ``labels_<split>.zip`` holding one CSV (image_id + 81 0/1 columns).

    Streams the CSV out of the zip. The real files' ``image_id`` column is not unique (and
    some values are words such as ``"of"``); ids are kept as they are.
    """
    path = folder / f"labels_{split}.zip"
    with zipfile.ZipFile(path) as z:
        members = [m for m in z.namelist() if m.lower().endswith(".csv")]
        if len(members) != 1:
            raise DataFormatError(f"expected exactly one .csv inside, found {members}", path)
        member = members[0]
        where = f"{path}:{member}"
        with z.open(member) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            header = next(reader, None)
            if not header or len(header) < 2:
                raise DataFormatError("expected a header 'image_id,<concept>,...'", where, 1)
            concepts = header[1:]
            L = len(concepts)
            ids: list[str] = []
            chunks: list[str] = []
            lines: list[int] = []
            slow: dict[int, list[str]] = {}
            for row in reader:
                if len(row) != L + 1:
                    if not row:
                        continue
                    raise DataFormatError(
                        f"expected {L + 1} fields like the header, found {len(row)}",
                        where,
                        reader.line_num,
                    )
                ids.append(row[0])
                lines.append(reader.line_num)
                cells = row[1:]
                joined = "".join(cells)
                if len(joined) == L and "" not in cells:
                    chunks.append(joined)
                else:
                    slow[len(ids) - 1] = cells
                    chunks.append("0" * L)
    n = len(ids)
    codes = np.frombuffer("".join(chunks).encode("ascii", "replace"), dtype=np.uint8)
    codes = codes.reshape(n, L)
    dense = codes == ord("1")
    invalid: list[tuple[int, str, str]] = []
    for r in np.flatnonzero(~(dense | (codes == ord("0"))).all(axis=1)).tolist():
        slow[r] = [chr(c) for c in codes[r]]
    for r, cells in sorted(slow.items()):
        for c, v in enumerate(cells):
            v = v.strip()
            if v in ("0", "1"):
                dense[r, c] = v == "1"
                continue
            if strict:
                raise DataFormatError(
                    f"column {concepts[c]!r} should be 0 or 1, got {v!r}", where, lines[r]
                )
            dense[r, c] = False
            invalid.append((lines[r], concepts[c], v))
    if invalid:
        warnings.warn(
            f"{where}: {len(invalid)} cells are not 0/1 and were read as 0 (first: line "
            f"{invalid[0][0]}, column {invalid[0][1]!r}, value {invalid[0][2]!r}); pass "
            "strict=True to raise instead",
            stacklevel=3,
        )
    info = {"path": where, "invalid_cells": invalid, "duplicate_ids": n - len(set(ids))}
    return MultiLabelDataset(
        X=None,
        Y=sp.csr_matrix(dense.astype(np.int8)),
        vocabulary=LabelVocabulary(concepts),
        name=f"nus-wide-81-labels/{split}",
        ids=ids,
        info=info,
    )


def _load_debian(folder: Path, split: str, min_count: int = 1) -> MultiLabelDataset:
    """Debian packages: ``depends.jsonl.gz``, one ``{"package", "depends": [...]}`` per line."""
    path = folder / "depends.jsonl.gz"
    ids: list[str] = []
    lists: list[list[str]] = []
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"expected a JSON object ({e.msg})", path, lineno) from None
        if not (
            isinstance(obj, dict)
            and isinstance(obj.get("package"), str)
            and isinstance(obj.get("depends"), list)
            and all(isinstance(d, str) for d in obj["depends"])
        ):
            raise DataFormatError('expected {"package": str, "depends": [str, ...]}', path, lineno)
        ids.append(obj["package"])
        lists.append(obj["depends"])
    vocab = LabelVocabulary.from_lists(lists, min_count=min_count)
    Y = vocab.encode(lists, unknown="ignore")
    info = {
        "path": str(path),
        "min_count": min_count,
        "n_dropped_occurrences": vocab.n_unknown_,
        "duplicate_ids": len(ids) - len(set(ids)),
    }
    return MultiLabelDataset(
        X=None, Y=Y, vocabulary=vocab, name="debian-depends", ids=ids, info=info
    )


def _read_genre_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """movie-posters CSV: (genre columns, ids, 0/1 matrix)."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[:2] != ["Id", "Genre"] or len(header) < 3:
            raise DataFormatError("expected a header 'Id,Genre,<genre>,...'", path, 1)
        genres = header[2:]
        ids: list[str] = []
        rows: list[list[str]] = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataFormatError(
                    f"expected {len(header)} fields like the header, found {len(row)}",
                    path,
                    reader.line_num,
                )
            if any(v not in ("0", "1") for v in row[2:]):
                raise DataFormatError("genre columns should be 0 or 1", path, reader.line_num)
            ids.append(row[0])
            rows.append(row[2:])
    return genres, ids, np.array(rows, dtype=str).reshape(len(rows), len(genres)) == "1"


def _load_movie_posters(folder: Path, split: str) -> MultiLabelDataset:
    """Film posters: ``<split>.csv`` (Id, Genre, one 0/1 column per genre) + ``images/<Id>.jpg``.

    In ``test``, ids that also occur in train or val are dropped (3 + 2 in the real files); the
    numbers are in ``info``. Train has 7 ids listed twice (identical rows); they are kept.
    """
    path = folder / f"{split}.csv"
    genres, ids, M = _read_genre_csv(path)
    info: dict[str, Any] = {"path": str(path), "duplicate_ids": len(ids) - len(set(ids))}
    if split == "test":
        keep = np.ones(len(ids), dtype=bool)
        for other in ("train", "val"):
            other_genres, other_ids, _ = _read_genre_csv(folder / f"{other}.csv")
            if other_genres != genres:
                raise DataFormatError(f"genre columns differ from {path.name}", folder / other)
            seen = set(other_ids)
            hit = np.array([i in seen for i in ids], dtype=bool) & keep
            info[f"dropped_overlap_{other}"] = int(hit.sum())
            keep &= ~hit
        info["dropped_overlap"] = int((~keep).sum())
        ids = [i for i, k in zip(ids, keep, strict=True) if k]
        M = M[keep]
    img_dir = (folder / "images").resolve()
    X = [str(img_dir / f"{i}.jpg") for i in ids]
    info["missing_images"] = sum(1 for x in X if not os.path.isfile(x))
    return MultiLabelDataset(
        X=X,
        Y=sp.csr_matrix(M.astype(np.int8)),
        vocabulary=LabelVocabulary(genres),
        name=f"movie-posters/{split}",
        ids=ids,
        info=info,
    )


def _load_tabler(
    folder: Path, split: str, min_count: int = 5, seed: int = 0, test_size: float = 0.2
) -> MultiLabelDataset:
    """Tabler line icons: ``icons.json`` (name -> {name, category, tags}) + outline SVGs.

    Icons whose SVG is missing are skipped. Tags are strings (the JSON also has a few numbers,
    read as their decimal text, and two ``null`` tags, dropped). The vocabulary is built from
    every icon's tags, before the split, keeping tags used by at least ``min_count`` icons
    (default 5: 1,792 of 7,618 tags in the real file). Icons left without a tag are skipped;
    the rest are split at random (``seed``) into train and ``test_size`` test; split ``"all"``
    returns them all. Samples are in icon-name order within each split.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    path = folder / "icons.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(f"not valid JSON ({e.msg})", path, e.lineno) from None
    if not isinstance(meta, dict):
        raise DataFormatError("expected an object mapping icon names to records", path, 1)
    svg_dir = (folder / "icons" / "outline").resolve()
    names: list[str] = []
    tag_lists: list[list[str]] = []
    categories: list[str] = []
    n_missing = n_null = 0
    for key in sorted(meta):
        rec = meta[key]
        if not isinstance(rec, dict) or not isinstance(rec.get("tags", []), list):
            raise DataFormatError(f"icon {key!r}: expected {{name, category, tags: [...]}}", path)
        if not (svg_dir / f"{key}.svg").is_file():
            n_missing += 1
            continue
        tags = []
        for t in rec.get("tags", []):
            if t is None:
                n_null += 1
            elif isinstance(t, str | int | float) and str(t).strip():
                tags.append(str(t).strip())
        names.append(key)
        tag_lists.append(list(dict.fromkeys(tags)))
        categories.append(str(rec.get("category") or ""))
    vocab = LabelVocabulary.from_lists(tag_lists, min_count=min_count)
    Y_all = vocab.encode(tag_lists, unknown="ignore")
    usable = np.flatnonzero(np.diff(Y_all.indptr) > 0)
    n_tags = len({t for ts in tag_lists for t in ts})
    if split == "all":
        chosen = usable
    else:
        perm = np.random.default_rng(seed).permutation(len(usable))
        n_test = round(test_size * len(usable))
        part = perm[:n_test] if split == "test" else perm[n_test:]
        chosen = usable[np.sort(part)]
    info = {
        "path": str(path),
        "min_count": min_count,
        "seed": seed,
        "test_size": test_size,
        "n_icons": len(meta),
        "n_missing_svg": n_missing,
        "n_null_tags": n_null,
        "n_tags_total": n_tags,
        "n_icons_without_kept_tags": len(names) - len(usable),
        "categories": [categories[i] for i in chosen],
    }
    return MultiLabelDataset(
        X=[str(svg_dir / f"{names[i]}.svg") for i in chosen],
        Y=Y_all[chosen],
        vocabulary=vocab,
        name=f"tabler-icons/{split}",
        ids=[names[i] for i in chosen],
        info=info,
    )


def _load_coco128(folder: Path, split: str) -> MultiLabelDataset:
    """coco128 in YOLO layout, reduced to image-level labels (see :func:`read_yolo`)."""
    return read_yolo(folder, "train", name="coco128")


def train_val_test(
    name: str,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    **options: Any,
) -> tuple[MultiLabelDataset, MultiLabelDataset, MultiLabelDataset]:
    """Train, validation and test splits of a shared dataset, or of an items file.

    ``name`` is a shared dataset name, or the path of a CSV/JSONL items file (see
    ``read_items``; ``options`` go to it), split 80/10/10 at random with ``seed``.

    The dataset's own validation split is used where it has one (movie-posters); otherwise a
    ``val_fraction`` of the training split is held out with a fixed ``seed``, so every run and
    every head sees the same three sets. Model selection (learning rate, early stopping) uses
    validation only; test is touched once per finished run.
    """
    if name not in _SPLITS and Path(name).is_file():
        # An items file (CSV/JSONL of inputs and labels): a seeded 80/10/10 split.
        items = read_items(name, **options)
        order = np.random.default_rng(seed).permutation(len(items))
        n_val = n_test = max(1, round(val_fraction * len(items)))
        parts = (order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test])
        out = tuple(items.subset(np.sort(p)) for p in parts)
        for part, split in zip(out, ("train", "val", "test"), strict=True):
            part.name = f"{Path(name).name}/{split}"
        return out  # type: ignore[return-value]
    splits = _SPLITS.get(name)
    if splits is None:
        raise ValueError(
            f"unknown dataset {name!r}: neither a shared dataset ({sorted(DATASETS)}) nor an items file"
        )
    if "train" not in splits or "test" not in splits:
        raise ValueError(f"dataset {name!r} has no train/test split (splits: {list(splits)})")
    train = load_dataset(name, "train", data_dir, **options)
    test = load_dataset(name, "test", data_dir, **options)
    if "val" in splits:
        return train, load_dataset(name, "val", data_dir, **options), test
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = max(1, round(val_fraction * len(train)))
    val = train.subset(np.sort(order[:n_val]))
    fit = train.subset(np.sort(order[n_val:]))
    val.name, fit.name = f"{name}/val", f"{name}/train"
    return fit, val, test

"""The ARFF format (Weka's attribute-relation files) as Mulan uses it, read row by row.

:func:`read_arff_header` parses the ``@relation`` / ``@attribute`` header. :func:`read_arff_data`
reads the dense (``0,1,0.5,...``) or sparse (``{3 1,17 0.5}``) rows after ``@data`` into a
feature matrix and a label matrix, given which attributes are labels and which are features
(:mod:`labelsphere.data.readers.mulan` decides that from its XML label list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.data.dataset import DataFormatError, csr_from_coo
from labelsphere.data.text import iter_lines, open_text

__all__ = ["Attribute", "read_arff_data", "read_arff_header", "unescape"]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_NUMERIC_TYPES = {"numeric", "real", "integer"}


def unescape(s: str) -> str:
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
        return unescape(s[1:-1])
    return unescape(s)


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
class Attribute:
    """One ``@attribute`` of an ARFF header and the line declaring it."""

    name: str
    kind: str  # "numeric", "nominal" or the unsupported type's keyword
    values: list[str] | None
    line: int


def _parse_attribute(line: str, path: Path, lineno: int) -> Attribute:
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
    name = unescape(raw)
    if not name:
        raise DataFormatError("empty attribute name", path, lineno)
    if type_str.startswith("{"):
        if not type_str.endswith("}"):
            raise DataFormatError(
                f"nominal type of attribute {name!r} should end with '}}', got {type_str!r}",
                path,
                lineno,
            )
        return Attribute(name, "nominal", _split_nominal(type_str[1:-1]), lineno)
    kind = type_str.split(None, 1)[0].lower() if type_str else ""
    if not kind:
        raise DataFormatError(f"attribute {name!r} has no type", path, lineno)
    return Attribute(name, "numeric" if kind in _NUMERIC_TYPES else kind, None, lineno)


def read_arff_header(path: Path) -> tuple[list[Attribute], str, int]:
    """Parse an ARFF header; return (attributes, relation name, line number of @data)."""
    attrs: list[Attribute] = []
    relation = ""
    for lineno, line in iter_lines(path):
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


def read_arff_data(
    path: Path,
    data_line: int,
    attrs: list[Attribute],
    feat_col: list[int],
    feat_map: list[dict[str, float] | None],
    label_col: list[int],
    n_feat: int,
    n_labels: int,
) -> tuple[np.ndarray | sp.csr_matrix, sp.csr_matrix]:
    """Read the rows after line ``data_line`` into (features, labels).

    Attribute ``j`` is label ``label_col[j]`` or feature ``feat_col[j]`` (-1 where it is not);
    ``feat_map[j]`` maps a nominal feature's values to numbers. Features are CSR float32 when
    any row is sparse, otherwise a dense float32 array; labels are CSR int8 (n, n_labels).
    """
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

    with open_text(path) as f:
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
            prev = -1
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
                    if j <= prev:
                        # ARFF sparse rows list each index once, increasing; a repeat would be
                        # summed by the CSR build (a 0/1 feature becoming 2).
                        raise DataFormatError(
                            f"bad sparse entry {item.strip()!r}: attribute index {j} "
                            f"{'is repeated' if j == prev else 'is out of order'} "
                            f"(after {prev})",
                            path,
                            lineno,
                        )
                    prev = j
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

    Y = csr_from_coo(l_rows, l_cols, (n, n_labels))
    feat_idx = [j for j in range(n_attrs) if feat_col[j] >= 0]
    lab_idx = [j for j in range(n_attrs) if label_col[j] >= 0]
    if dense:
        Xd, Yd = _convert_dense(dense, feat_idx, lab_idx, bad_value)
        rows = np.array([r for r, _, _ in dense], dtype=np.int64)
        yr, yc = np.nonzero(Yd)
        lab_pos = np.array([label_col[j] for j in lab_idx], dtype=np.int64)
        Y = Y + csr_from_coo(rows[yr], lab_pos[yc], (n, n_labels))
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

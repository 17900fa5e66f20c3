"""The Extreme Classification Repository text format (sparse features, label indices)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset, csr_from_coo
from labelsphere.data.text import iter_lines
from labelsphere.labels import LabelVocabulary

__all__ = ["read_xc"]


def read_xc(path: str | Path, name: str | None = None) -> MultiLabelDataset:
    """Read the Extreme Classification Repository text format.

    The first line is ``N D L``; each following line is one sample,
    ``l1,l2,... f:v f:v ...`` with 0-based label and feature indices (a sample without labels
    starts with a space). ``X`` is CSR float32 (N, D); label names are the indices as strings
    (``"0"`` ... ``str(L-1)``).
    """
    path = Path(path)
    it = iter_lines(path)
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
    Y = csr_from_coo(l_rows, l_cols, (n_rows, n_labels))
    vocab = LabelVocabulary([str(k) for k in range(n_labels)])
    return MultiLabelDataset(
        X=X, Y=Y, vocabulary=vocab, name=name or path.stem, info={"path": str(path)}
    )

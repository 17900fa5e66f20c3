"""NUS-WIDE's 81 concept labels: a zipped CSV of image ids and one 0/1 column per concept."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset
from labelsphere.data.text import decoding, read_csv
from labelsphere.labels import LabelVocabulary

__all__ = ["load_nus_wide"]


def load_nus_wide(folder: Path, split: str, strict: bool = False) -> MultiLabelDataset:
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
        expected_header = "expected a header 'image_id,<concept>,...'"
        with decoding(lambda: z.open(member), where) as f:
            header, records = read_csv(f, where, empty_message=expected_header)
            if len(header) < 2:
                raise DataFormatError(expected_header, where, 1)
            concepts = header[1:]
            L = len(concepts)
            ids: list[str] = []
            chunks: list[str] = []
            lines: list[int] = []
            slow: dict[int, list[str]] = {}
            for lineno, row in records:
                ids.append(row[0])
                lines.append(lineno)
                cells = row[1:]
                joined = "".join(cells)
                # The common row, 81 single-character cells, is decoded below in one go.
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

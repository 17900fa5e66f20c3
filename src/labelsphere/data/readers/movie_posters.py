"""Film posters: ``<split>.csv`` (Id, Genre, one 0/1 column per genre) + ``images/<Id>.jpg``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset
from labelsphere.data.text import open_text, read_csv
from labelsphere.labels import LabelVocabulary

__all__ = ["load_movie_posters"]


def _read_genre_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """movie-posters CSV: (genre columns, ids, 0/1 matrix)."""
    expected_header = "expected a header 'Id,Genre,<genre>,...'"
    with open_text(path) as f:
        header, records = read_csv(f, path, empty_message=expected_header)
        if header[:2] != ["Id", "Genre"] or len(header) < 3:
            raise DataFormatError(expected_header, path, 1)
        genres = header[2:]
        ids: list[str] = []
        rows: list[list[str]] = []
        for lineno, row in records:
            if any(v not in ("0", "1") for v in row[2:]):
                raise DataFormatError("genre columns should be 0 or 1", path, lineno)
            ids.append(row[0])
            rows.append(row[2:])
    return genres, ids, np.array(rows, dtype=str).reshape(len(rows), len(genres)) == "1"


def load_movie_posters(folder: Path, split: str) -> MultiLabelDataset:
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

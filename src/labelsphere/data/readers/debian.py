"""Debian packages' dependencies: gzipped JSON lines ``{"package": ..., "depends": [...]}``."""

from __future__ import annotations

from pathlib import Path

from labelsphere.data.dataset import MultiLabelDataset
from labelsphere.data.text import iter_jsonl, require_str, require_str_list
from labelsphere.labels import LabelVocabulary

__all__ = ["load_debian"]


def load_debian(folder: Path, split: str, min_count: int = 1) -> MultiLabelDataset:
    """Debian packages: ``depends.jsonl.gz``, one ``{"package", "depends": [...]}`` per line."""
    path = folder / "depends.jsonl.gz"
    ids: list[str] = []
    lists: list[list[str]] = []
    for lineno, obj in iter_jsonl(path, ("package", "depends")):
        ids.append(require_str(obj, "package", path, lineno))
        lists.append(require_str_list(obj, "depends", path, lineno))
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

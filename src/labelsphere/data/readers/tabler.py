"""Tabler line icons: ``icons.json`` (name -> {name, category, tags}) + outline SVGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset
from labelsphere.data.text import read_json
from labelsphere.labels import LabelVocabulary

__all__ = ["load_tabler"]


def load_tabler(
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
    meta = read_json(path)
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

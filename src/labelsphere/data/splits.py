"""The train, validation and test parts every run and every head sees for one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelsphere.data.dataset import MultiLabelDataset
from labelsphere.data.readers.items import read_items
from labelsphere.data.registry import DATASET_REGISTRY, DATASETS, load_dataset

__all__ = ["train_val_test"]


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
    if name not in DATASET_REGISTRY and Path(name).is_file():
        # An items file (CSV/JSONL of inputs and labels): a seeded 80/10/10 split.
        items = read_items(name, **options)
        order = np.random.default_rng(seed).permutation(len(items))
        n_val = n_test = max(1, round(val_fraction * len(items)))
        parts = (order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test])
        out = tuple(items.subset(np.sort(p)) for p in parts)
        for part, split in zip(out, ("train", "val", "test"), strict=True):
            part.name = f"{Path(name).name}/{split}"
        return out  # type: ignore[return-value]
    entry = DATASET_REGISTRY.get(name)
    if entry is None:
        raise ValueError(
            f"unknown dataset {name!r}: neither a shared dataset ({sorted(DATASETS)}) nor an items file"
        )
    splits = entry.splits
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

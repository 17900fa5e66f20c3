"""The train, validation and test parts every run and every head sees for one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from labelsphere.data.dataset import MultiLabelDataset
from labelsphere.data.readers.items import read_items
from labelsphere.data.registry import DATASET_REGISTRY, DATASETS, load_dataset

__all__ = ["VAL_SPLITS", "hold_out_validation", "train_val_test"]

VAL_SPLITS = ("auto", "random", "grouped")
"""How the validation part is drawn from train: ``"grouped"`` keeps each of the dataset's
groups on one side, ``"random"`` draws samples; ``"auto"`` is grouped where the dataset has
groups (iconify-icons), random elsewhere."""


def train_val_test(
    name: str,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    val_file: str | Path | None = None,
    test_file: str | Path | None = None,
    val_split: str = "auto",
    **options: Any,
) -> tuple[MultiLabelDataset, MultiLabelDataset, MultiLabelDataset]:
    """Train, validation and test splits of a shared dataset, or of an items file.

    ``name`` is a shared dataset name, or the path of a CSV/JSONL items file (see
    ``read_items``; ``options`` go to it), split 80/10/10 at random with ``seed``.

    The dataset's own validation split is used where it has one (movie-posters); otherwise a
    ``val_fraction`` of the training split is held out with a fixed ``seed``, so every run and
    every head sees the same three sets. Model selection (learning rate, early stopping) uses
    validation only; test is touched once per finished run.

    ``val_split`` (one of :data:`VAL_SPLITS`) says how that validation part is drawn. Where
    the dataset gives each sample a group (``MultiLabelDataset.groups``: iconify-icons, whose
    test split keeps the variants of one icon together), ``"auto"`` and ``"grouped"`` hold out
    whole groups, about ``val_fraction`` of them (``GroupShuffleSplit``), so validation
    measures what test measures; ``"random"`` holds out samples, as for every other dataset.

    For an items file, ``val_file`` and ``test_file`` (items files of the same layout) replace
    the random validation and test parts; their labels are read with the training file's
    vocabulary, labels it does not have are dropped (counted in ``info``).
    """
    if val_split not in VAL_SPLITS:
        raise ValueError(f"val_split must be one of {list(VAL_SPLITS)}, got {val_split!r}")
    if name not in DATASET_REGISTRY and Path(name).is_file():
        if val_split == "grouped":
            raise ValueError(f"{name}: an items file has no groups; use val_split='random'")
        # An items file (CSV/JSONL of inputs and labels): a seeded 80/10/10 split.
        items = read_items(name, **options)
        if val_file is not None or test_file is not None:
            return _with_given_files(items, name, val_fraction, seed, val_file, test_file, options)
        order = np.random.default_rng(seed).permutation(len(items))
        n_val = n_test = max(1, round(val_fraction * len(items)))
        if len(items) - n_val - n_test < 1:
            raise ValueError(
                f"{name}: {len(items)} items are too few for a train/validation/test split "
                "(give --val-file and --test-file, or more items)"
            )
        parts = (order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test])
        out = tuple(items.subset(np.sort(p)) for p in parts)
        for part, split in zip(out, ("train", "val", "test"), strict=True):
            part.name = f"{Path(name).name}/{split}"
        return out  # type: ignore[return-value]
    if val_file is not None or test_file is not None:
        raise ValueError("val_file and test_file go with an items file, not a shared dataset")
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
    fit, val = hold_out_validation(train, val_fraction, seed, val_split)
    val.name, fit.name = f"{name}/val", f"{name}/train"
    return fit, val, test


def hold_out_validation(
    train: MultiLabelDataset, val_fraction: float = 0.1, seed: int = 0, val_split: str = "auto"
) -> tuple[MultiLabelDataset, MultiLabelDataset]:
    """Split ``train`` into the part that trains and a seeded validation part.

    ``val_split="auto"`` or ``"grouped"`` with ``train.groups`` set: about ``val_fraction`` of
    the groups go to validation, each whole (``GroupShuffleSplit``). Otherwise ``val_fraction``
    of the samples, drawn at random. Both parts keep file order; their ``info["val_split"]``
    says which draw was made.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from labelsphere.data import MultiLabelDataset
    >>> from labelsphere.labels import LabelVocabulary
    >>> d = MultiLabelDataset(None, sp.csr_matrix([[1]] * 6), LabelVocabulary(["a"]), "toy",
    ...                       groups=["x", "x", "y", "y", "z", "z"])
    >>> fit, val = hold_out_validation(d, val_fraction=0.3)
    >>> sorted(set(val.groups)), len(fit), val.info["val_split"]
    (['z'], 4, 'grouped')
    """
    if val_split not in VAL_SPLITS:
        raise ValueError(f"val_split must be one of {list(VAL_SPLITS)}, got {val_split!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if train.groups is None and val_split == "grouped":
        raise ValueError(f"{train.name} has no groups; use val_split='random'")
    if train.groups is not None and val_split != "random":
        splitter = GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
        fit_idx, val_idx = next(splitter.split(np.zeros(len(train)), groups=train.groups))
        kind = "grouped"
    else:
        order = np.random.default_rng(seed).permutation(len(train))
        n_val = max(1, round(val_fraction * len(train)))
        val_idx, fit_idx = order[:n_val], order[n_val:]
        kind = "random"
    fit, val = train.subset(np.sort(fit_idx)), train.subset(np.sort(val_idx))
    fit.info["val_split"] = val.info["val_split"] = kind
    return fit, val


def _with_given_files(
    items: MultiLabelDataset,
    name: str,
    val_fraction: float,
    seed: int,
    val_file: str | Path | None,
    test_file: str | Path | None,
    options: dict[str, Any],
) -> tuple[MultiLabelDataset, MultiLabelDataset, MultiLabelDataset]:
    """The user's own validation and/or test file; what is not given is split off the train file."""
    given = {
        split: read_items(
            path, **{**options, "vocabulary": items.vocabulary, "unknown": "ignore", "min_count": 1}
        )
        for split, path in (("val", val_file), ("test", test_file))
        if path is not None
    }
    for split, path in (("val", val_file), ("test", test_file)):
        if path is not None:
            given[split].name = Path(path).name
    missing = [s for s in ("val", "test") if s not in given]
    order = np.random.default_rng(seed).permutation(len(items))
    n = max(1, round(val_fraction * len(items)))
    parts = {s: order[i * n : (i + 1) * n] for i, s in enumerate(missing)}
    train = items.subset(np.sort(order[len(missing) * n :]))
    train.name = f"{Path(name).name}/train"
    for s, idx in parts.items():
        given[s] = items.subset(np.sort(idx))
        given[s].name = f"{Path(name).name}/{s}"
    return train, given["val"], given["test"]

"""What a saved model is given: feature-row files (``read_rows``) and dataset splits as
``train`` saw them (``load_split``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelsphere.data import MultiLabelDataset
from labelsphere.labels import LabelVocabulary

__all__ = ["ROW_SUFFIXES", "load_split", "read_rows"]

ROW_SUFFIXES = (".npy", ".npz")


def read_rows(path: str | Path) -> np.ndarray | sp.csr_matrix:
    """Feature rows from a ``.npy`` (dense, never unpickled) or ``.npz`` (scipy sparse) file.

    Refused with a ``ValueError`` naming the file: another suffix, a path that is not a regular
    file (a FIFO would block), a header that promises more data than the file holds, non-numeric
    or non-2-D arrays, no rows, and values outside float32 (they would score as infinity).
    """
    import os
    import stat

    path = Path(path)
    if path.suffix not in ROW_SUFFIXES:
        raise ValueError(f"{path}: expected feature rows as .npy or .npz")
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path}: not a regular file")
        if path.suffix == ".npy":
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(f)
                need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if need > st.st_size:
                    raise ValueError(
                        f"{path}: the header promises {need} bytes of data, the file has "
                        f"{st.st_size}"
                    )
            X = np.load(path, allow_pickle=False)
        else:
            X = sp.load_npz(path)
    except (OSError, EOFError, ValueError, MemoryError) as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: unreadable feature rows ({e})") from None
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        values = X.data
    else:
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{path}: feature rows must be numeric, got dtype {X.dtype}")
        X = np.atleast_2d(X)
        if X.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D array of rows, got shape {X.shape}")
        values = X
    if X.shape[0] == 0:
        raise ValueError(f"{path}: no rows")
    big = np.abs(np.asarray(values, dtype=np.float64)) > np.finfo(np.float32).max
    if np.any(big & np.isfinite(np.asarray(values, dtype=np.float64))):
        raise ValueError(f"{path}: values beyond float32's range ({np.finfo(np.float32).max:.3g})")
    return X


def load_split(
    dataset: str,
    split: str = "test",
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    vocabulary: LabelVocabulary | None = None,
    **options: Any,
) -> MultiLabelDataset:
    """One split of a shared dataset or an items file, as ``train`` saw it.

    ``train``, ``val`` and ``test`` are the parts ``train_val_test`` gives (the same seeded
    split ``labelsphere train`` used); a shared dataset's other named splits (``all``) load
    as they are, and ``all`` of an items file is the whole file (a test file of your own),
    read with ``vocabulary`` when given (labels it lacks are dropped). ``options`` go to
    ``train_val_test`` (``val_split``, the reader's options such as ``max_icons``).
    """
    from labelsphere.data import dataset_splits, load_dataset, read_items, train_val_test

    parts = ("train", "val", "test")
    is_file = Path(dataset).is_file()
    if not is_file:
        named = dataset_splits(dataset)
        if split in named and split != "train":
            # The dataset's own split: the reader's options apply, the validation draw does not.
            reader_options = {k: v for k, v in options.items() if k != "val_split"}
            return load_dataset(dataset, split, data_dir, **reader_options)
        if split not in parts:
            raise ValueError(
                f"dataset {dataset!r} has no split {split!r}; choose one of {[*parts, *named]}"
            )
    elif split == "all":
        if vocabulary is None:
            return read_items(dataset, **options)
        return read_items(dataset, vocabulary=vocabulary, unknown="ignore", **options)
    elif split not in parts:
        raise ValueError(
            f"{dataset}: an items file has the splits {[*parts, 'all']}, not {split!r}"
        )
    return train_val_test(dataset, data_dir, val_fraction=val_fraction, **options)[
        parts.index(split)
    ]

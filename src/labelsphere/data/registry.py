"""The shared datasets, one :class:`DatasetEntry` each, and :func:`load_dataset` to read them.

Adding a dataset is adding one entry to :data:`DATASET_REGISTRY`: its name (also the name of its
folder in the data directory), a one-line description, its splits, the options its loader
accepts with their defaults, and the loader. :func:`load_dataset`, :func:`dataset_splits`,
:data:`DATASETS` and :func:`~labelsphere.data.train_val_test` all read the registry, and nothing
else. Nothing is ever downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from labelsphere.data.dataset import MultiLabelDataset, get_data_dir
from labelsphere.data.readers import (
    load_debian,
    load_iconify,
    load_movie_posters,
    load_nus_wide,
    load_tabler,
    read_mulan,
    read_yolo,
)

__all__ = [
    "DATASETS",
    "DATASET_REGISTRY",
    "DatasetEntry",
    "Loader",
    "dataset_splits",
    "load_dataset",
    "parse_dataset_options",
]

Loader = Callable[..., MultiLabelDataset]
"""``loader(folder, split, **options)``: read one split of a dataset from its folder."""


@dataclass(frozen=True)
class DatasetEntry:
    """One shared dataset: what it is, its splits, and how to read it.

    Attributes
    ----------
    name : str
        The dataset's name, also its folder in the data directory.
    description : str
        One line for ``labelsphere datasets``.
    splits : tuple of str
        The splits :func:`load_dataset` accepts; the default is ``"train"`` if listed, else
        ``"all"``.
    loader : callable
        ``loader(folder, split, **options)`` returning a :class:`MultiLabelDataset`.
    options : mapping
        The keyword options ``loader`` accepts, with their defaults (read-only); every one is
        passed, so the loader sees the registry's defaults.
    """

    name: str
    description: str
    splits: tuple[str, ...]
    loader: Loader
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.description:
            raise ValueError("a dataset entry needs a name and a description")
        if not self.splits or isinstance(self.splits, str):
            raise ValueError(f"dataset {self.name!r}: splits must be a non-empty tuple of names")
        if not callable(self.loader):
            raise TypeError(f"dataset {self.name!r}: loader must be callable")
        # Frozen means the entry cannot be rebound; copying the containers keeps it from
        # changing through a list or dict the caller still holds.
        object.__setattr__(self, "splits", tuple(self.splits))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def default_split(self) -> str:
        return "train" if "train" in self.splits else "all"


def _mulan(arff: str, xml: str) -> Loader:
    """A loader for a Mulan dataset: ``arff`` has a ``{split}`` field, ``xml`` lists the labels."""

    def load(folder: Path, split: str) -> MultiLabelDataset:
        # The folder is named after the dataset (see load_dataset).
        name = f"{folder.name}/{split}"
        return read_mulan(folder / arff.format(split=split), folder / xml, name=name)

    return load


def _load_coco128(folder: Path, split: str) -> MultiLabelDataset:
    """coco128 in YOLO layout, reduced to image-level labels (see :func:`read_yolo`)."""
    return read_yolo(folder, "train", name="coco128")


DATASET_REGISTRY: dict[str, DatasetEntry] = {
    e.name: e
    for e in (
        DatasetEntry(
            "delicious",
            "web pages as 500 bag-of-words features, 983 tags (Mulan ARFF; train/test)",
            ("train", "test"),
            _mulan("delicious-{split}.arff", "delicious.xml"),
        ),
        DatasetEntry(
            "bibtex",
            "BibTeX entries as 1,836 bag-of-words features, 159 tags (Mulan ARFF; train/test)",
            ("train", "test"),
            _mulan("bibtex-{split}.arff", "bibtex.xml"),
        ),
        DatasetEntry(
            "corel5k",
            "images as 499 visual-word features, 374 keywords (Mulan ARFF; train/test)",
            ("train", "test"),
            _mulan("Corel5k-{split}-sparse.arff", "Corel5k.xml"),
        ),
        DatasetEntry(
            "nus-wide-81-labels",
            "Flickr photos' 81 concepts, labels only (zipped CSV; train/test)",
            ("train", "test"),
            load_nus_wide,
            {"strict": False},
        ),
        DatasetEntry(
            "debian-depends",
            "Debian packages' dependencies as label sets, labels only (JSONL; all)",
            ("all",),
            load_debian,
            {"min_count": 1},
        ),
        DatasetEntry(
            "movie-posters",
            "film poster image paths, 25 genres (CSV + JPEG; train/val/test)",
            ("train", "val", "test"),
            load_movie_posters,
        ),
        DatasetEntry(
            "tabler-icons",
            "line-icon SVG paths with free-form tags (JSON + SVG; seeded train/test)",
            ("train", "test", "all"),
            load_tabler,
            {"min_count": 5, "seed": 0, "test_size": 0.2},
        ),
        DatasetEntry(
            "coco128",
            "128 COCO photos' paths, image-level labels of 80 classes (YOLO layout; all)",
            ("all",),
            _load_coco128,
        ),
        DatasetEntry(
            "iconify-icons",
            "313k/35k inline-SVG icons of 229 sets, name words and tags as labels (JSONL; train/test)",
            ("train", "test"),
            load_iconify,
            {"min_count": 5, "max_icons": None, "seed": 0},
        ),
    )
}


class _Descriptions(Mapping[str, str]):
    """Dataset name -> description, read live from :data:`DATASET_REGISTRY`."""

    def __getitem__(self, name: str) -> str:
        return DATASET_REGISTRY[name].description

    def __iter__(self) -> Iterator[str]:
        return iter(DATASET_REGISTRY)

    def __len__(self) -> int:
        return len(DATASET_REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


DATASETS: Mapping[str, str] = _Descriptions()
"""The shared datasets' names and one-line descriptions, in registry order (read-only)."""


def _entry(name: str) -> DatasetEntry:
    entry = DATASET_REGISTRY.get(name)
    if entry is None:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return entry


def parse_dataset_options(pairs: Iterable[str] | None) -> dict[str, Any]:
    """Loader options from ``KEY=VALUE`` strings, each value read as JSON (else a bare string).

    >>> parse_dataset_options(["max_icons=40000", "seed=1", "split=test"])
    {'max_icons': 40000, 'seed': 1, 'split': 'test'}
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--dataset-option: expected KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value  # a bare string
    return out


def dataset_splits(name: str) -> tuple[str, ...]:
    """The splits a shared dataset has, e.g. ``("train", "test")``."""
    return _entry(name).splits


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
        Per dataset (the registry entry's ``options`` list them with their defaults):

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
    entry = _entry(name)
    if split is None:
        split = entry.default_split
    if split not in entry.splits:
        raise ValueError(
            f"dataset {name!r} has no split {split!r}; choose one of {list(entry.splits)}"
        )
    allowed = entry.options
    extra = sorted(set(options) - set(allowed))
    if extra:
        valid = sorted(allowed) if allowed else "none"
        raise TypeError(f"dataset {name!r} got unknown options {extra}; valid options: {valid}")
    folder = get_data_dir(data_dir) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    # Called directly (no wrapper) so a loader's warnings.warn(stacklevel=3) points at the
    # caller of load_dataset.
    return entry.loader(folder, split, **{**allowed, **options})

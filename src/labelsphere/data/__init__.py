"""Reading multi-label datasets: generic file formats and the shared real datasets.

Data flow: a file -> its reader in :mod:`~labelsphere.data.readers` (parsing through the shared
helpers of :mod:`~labelsphere.data.text`) -> a :class:`MultiLabelDataset` (inputs ``X``,
multi-hot labels ``Y`` as CSR int8, the :class:`~labelsphere.labels.LabelVocabulary` naming
``Y``'s columns). A shared dataset is a name -> its entry in
:data:`~labelsphere.data.registry.DATASET_REGISTRY` (splits, options, loader) ->
:func:`load_dataset`; :func:`train_val_test` then fixes the three parts every run uses.
A malformed file raises :class:`DataFormatError` naming the file, the line and what was expected.

Generic formats
    * :func:`read_mulan` -- Mulan ARFF (dense or sparse rows) + XML label list.
    * :func:`read_xc` -- Extreme Classification Repository text format.
    * :func:`read_features` -- ``.npy`` / ``.npz`` features + one line of labels per sample.
    * :func:`read_items` / :func:`write_items` -- "items with labels" CSV or JSONL files.
    * :func:`read_yolo` -- YOLO object-detection layout reduced to image-level labels.

Shared datasets
    :func:`load_dataset` reads the datasets listed in :data:`DATASETS` from the data directory
    chosen by :func:`get_data_dir` (argument > ``$LABELSPHERE_DATA`` > ``~/labelsphere_data``).
    Nothing is ever downloaded.
"""

from __future__ import annotations

from labelsphere.data.dataset import (
    DATA_ENV,
    DEFAULT_DATA_DIR,
    DataFormatError,
    Features,
    MultiLabelDataset,
    get_data_dir,
)
from labelsphere.data.readers import (
    read_features,
    read_items,
    read_mulan,
    read_xc,
    read_yolo,
    write_items,
)
from labelsphere.data.registry import (
    DATASET_REGISTRY,
    DATASETS,
    DatasetEntry,
    dataset_splits,
    load_dataset,
    parse_dataset_options,
)
from labelsphere.data.splits import VAL_SPLITS, hold_out_validation, train_val_test
from labelsphere.labels import UnknownPolicy

__all__ = [
    "DATASETS",
    "DATASET_REGISTRY",
    "DATA_ENV",
    "DEFAULT_DATA_DIR",
    "VAL_SPLITS",
    "DataFormatError",
    "DatasetEntry",
    "Features",
    "MultiLabelDataset",
    "UnknownPolicy",
    "dataset_splits",
    "get_data_dir",
    "hold_out_validation",
    "load_dataset",
    "parse_dataset_options",
    "read_features",
    "read_items",
    "read_mulan",
    "read_xc",
    "read_yolo",
    "train_val_test",
    "write_items",
]

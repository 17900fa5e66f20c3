"""One reader per source format, each returning a :class:`~labelsphere.data.MultiLabelDataset`.

Generic formats (a path in, a dataset out):

* :func:`read_mulan` -- Mulan ARFF (dense or sparse rows) + XML label list
  (``mulan``, on top of the ARFF parser in ``arff``).
* :func:`read_xc` -- Extreme Classification Repository text format (``xc``).
* :func:`read_features` -- ``.npy`` / ``.npz`` features + one line of labels per sample
  (``features``).
* :func:`read_items` / :func:`write_items` -- "items with labels" CSV or JSONL files (``items``).
* :func:`read_yolo` -- YOLO object-detection layout reduced to image-level labels (``yolo``).

Sources with a layout of their own (a dataset folder and a split in, a dataset out), used by
:mod:`labelsphere.data.registry`: :func:`load_nus_wide`, :func:`load_debian`,
:func:`load_movie_posters`, :func:`load_tabler`, :func:`load_iconify`.

Label sets only, streamed from many files: :func:`iter_label_shards` (``shards``).

Images with labels in WebDataset tar shards (``webdataset``): :func:`write_image_shards` /
:func:`write_dataset_shards` write them, :func:`iter_image_shards` streams the samples,
:func:`read_image_shards` reads their labels into a dataset.
"""

from __future__ import annotations

from labelsphere.data.readers.debian import load_debian
from labelsphere.data.readers.features import read_features
from labelsphere.data.readers.iconify import load_iconify
from labelsphere.data.readers.items import read_items, write_items
from labelsphere.data.readers.movie_posters import load_movie_posters
from labelsphere.data.readers.mulan import read_mulan
from labelsphere.data.readers.nus_wide import load_nus_wide
from labelsphere.data.readers.shards import iter_label_shards
from labelsphere.data.readers.tabler import load_tabler
from labelsphere.data.readers.webdataset import (
    iter_image_shards,
    read_image_shards,
    write_dataset_shards,
    write_image_shards,
)
from labelsphere.data.readers.xc import read_xc
from labelsphere.data.readers.yolo import read_yolo

__all__ = [
    "iter_image_shards",
    "iter_label_shards",
    "load_debian",
    "load_iconify",
    "load_movie_posters",
    "load_nus_wide",
    "load_tabler",
    "read_features",
    "read_image_shards",
    "read_items",
    "read_mulan",
    "read_xc",
    "read_yolo",
    "write_dataset_shards",
    "write_image_shards",
    "write_items",
]

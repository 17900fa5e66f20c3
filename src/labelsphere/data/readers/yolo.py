"""The YOLO object-detection layout, reduced to image-level multi-label data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labelsphere.data.dataset import DataFormatError, MultiLabelDataset, csr_from_coo
from labelsphere.data.text import iter_lines
from labelsphere.labels import LabelVocabulary

__all__ = ["read_yolo"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_yolo(
    root: str | Path,
    split_dir: str = "train",
    names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiLabelDataset:
    """Read a YOLO object-detection folder as image-level multi-label data.

    Images are ``root/images/<split_dir>/*`` (jpg, png, ...), boxes
    ``root/labels/<split_dir>/<stem>.txt`` with one object per line, class index first. An
    image's labels are the set of classes of its objects; an image without a label file (or
    with an empty one) has no labels. Class names come from ``names`` or ``root/names.txt``
    (one per line, index order), and all of them form the vocabulary, in index order.
    ``X`` holds absolute image paths, sorted; ``ids`` the file stems.
    """
    root = Path(root).expanduser().resolve()
    if names is None:
        names_path = root / "names.txt"
        names = [ln.strip() for _, ln in iter_lines(names_path) if ln.strip()]
    vocab = LabelVocabulary(list(names))
    img_dir, lab_dir = root / "images" / split_dir, root / "labels" / split_dir
    if not img_dir.is_dir():
        raise FileNotFoundError(f"no image folder {img_dir}")
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    stems = {p.stem for p in images}
    rows: list[int] = []
    cols: list[int] = []
    n_with_file = 0
    for i, img in enumerate(images):
        lab = lab_dir / f"{img.stem}.txt"
        if not lab.is_file():
            continue
        n_with_file += 1
        for lineno, line in iter_lines(lab):
            parts = line.split()
            if not parts:
                continue
            try:
                k = int(parts[0])
                [float(t) for t in parts[1:]]
            except ValueError:
                raise DataFormatError(
                    f"expected '<class index> <x> <y> <w> <h>', got {line.strip()[:60]!r}",
                    lab,
                    lineno,
                ) from None
            if not 0 <= k < len(vocab):
                raise DataFormatError(
                    f"class index {k} is outside [0, {len(vocab)}) (names has {len(vocab)})",
                    lab,
                    lineno,
                )
            rows.append(i)
            cols.append(k)
    orphans = (
        sorted(p.stem for p in lab_dir.glob("*.txt") if p.stem not in stems)
        if lab_dir.is_dir()
        else []
    )
    Y = csr_from_coo(rows, cols, (len(images), len(vocab)))
    info = {
        "root": str(root),
        "n_images": len(images),
        "n_images_without_label_file": len(images) - n_with_file,
        "label_files_without_image": orphans,
    }
    return MultiLabelDataset(
        X=[str(p) for p in images],
        Y=Y,
        vocabulary=vocab,
        name=name or f"{root.name}/{split_dir}",
        ids=[p.stem for p in images],
        info=info,
    )

"""A dataset's three splits made ready for training: features as they are, images frozen or not.

Image datasets hold file paths. Frozen (the default), the backbone's pooled features are
extracted once (cached) and every head trains on them; fine-tuned, the paths stay and the
config gets the backbone to train end to end. ``prepare_inputs`` is what ``labelsphere train``
and ``labelsphere compare`` call first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelsphere.data import MultiLabelDataset, train_val_test

__all__ = [
    "DEFAULT_FEATURE_CACHE",
    "ImageOptions",
    "PreparedInputs",
    "TextOptions",
    "frozen_backbone",
    "prepare_inputs",
]

DEFAULT_FEATURE_CACHE = Path.home() / ".cache" / "labelsphere" / "features"


@dataclass
class ImageOptions:
    """How image datasets become inputs.

    Attributes:
        backbone: a timm model name.
        weights: ``"default"`` (packaged ImageNet weights), a local file, or ``None``/"none"
            (seeded random init). Never downloads.
        frozen: train heads on cached frozen features (True) or fine-tune end to end.
        cache_dir: the feature cache (default ``~/.cache/labelsphere/features``).
        num_workers: DataLoader workers decoding images.
        image_size: frozen features at this side in pixels, the whole image resized to it
            (no centre crop: icons and other drawings fill their frame); ``None``: the
            backbone's own preprocessing (224 px, centre crop, for EfficientNet-Lite0).
        render_size: instead of a timm backbone, render every image to (S, S) uint8
            grayscale (``labelsphere.data.renders``, cached) and train the ``PixelCNN`` from
            scratch on them, end to end (the paper's setting, at icon scale).
        stem_stride: how far the ``PixelCNN``'s stem downsamples (``None``: 1, the 32-48 px
            design; 4 for 224 px renders); only with ``render_size``.
    """

    backbone: str = "tf_efficientnet_lite0"
    weights: str | None = "default"
    frozen: bool = True
    cache_dir: Path | None = None
    num_workers: int = 0
    image_size: int | None = None
    render_size: int | None = None
    stem_stride: int | None = None


@dataclass
class TextOptions:
    """How text datasets (items files with a ``text`` column) become features.

    Attributes mirror ``labelsphere.text.TextFeaturizer``: TF-IDF over at most
    ``max_features`` words (``kind="tfidf"``), or hashed into ``n_features`` columns.
    """

    kind: str = "tfidf"
    max_features: int | None = 20_000
    ngram_range: tuple[int, int] = (1, 1)
    min_df: int = 2
    sublinear_tf: bool = True
    n_features: int | None = None


@dataclass
class PreparedInputs:
    """Train / validation / test splits ready for ``train``, and what made them.

    ``config`` holds the ``TrainConfig`` fields the inputs decide (backbone, frozen...);
    ``skipped`` the number of unreadable images dropped per split.
    """

    train: MultiLabelDataset
    val: MultiLabelDataset
    test: MultiLabelDataset
    feature_extractor: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    text_featurizer: Any = None
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def splits(self) -> tuple[MultiLabelDataset, MultiLabelDataset, MultiLabelDataset]:
        return self.train, self.val, self.test


def frozen_backbone(images: ImageOptions) -> Any:
    """The backbone that computes ``images``' frozen features (the feature cache's key).

    ``images.image_size`` resizes the whole image to that square (no centre crop); ``None``
    keeps the backbone's own preprocessing. Raises ``ValueError`` for a size outside [16, 1024].
    """
    from labelsphere.images import create_backbone

    size = images.image_size
    if size is not None and not (isinstance(size, int) and 16 <= size <= 1024):
        raise ValueError(f"image_size must be an integer in [16, 1024], got {size!r}")
    weights = None if images.weights is None or images.weights.lower() == "none" else images.weights
    resize = None if size is None else {"input_size": (3, size, size), "crop_pct": 1.0}
    return create_backbone(images.backbone, weights, data_config=resize)


def prepare_inputs(
    dataset: str,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    images: ImageOptions | None = None,
    progress: bool = True,
    text: TextOptions | None = None,
    dataset_options: dict[str, Any] | None = None,
) -> PreparedInputs:
    """Load ``dataset`` (a shared name or an items file) and prepare its inputs.

    Feature datasets come back as they are. Text datasets get TF-IDF features fitted on the
    training part (the featurizer is saved with the model, so it predicts from raw text).
    Image datasets get frozen features from the backbone (cached) or, with
    ``images.frozen=False``, the fine-tuning config. ``dataset_options`` go to
    ``train_val_test`` (for items files: ``input_column``, ``labels_column``, ``val_file``,
    ``test_file``...).
    """
    images = images or ImageOptions()
    if images.stem_stride is not None:
        from labelsphere.images.cnn import STEM_STRIDES

        if images.render_size is None:
            raise ValueError("stem_stride is the PixelCNN's: it needs render_size (--render-size)")
        if images.stem_stride not in STEM_STRIDES:
            raise ValueError(
                f"stem_stride must be one of {STEM_STRIDES}, got {images.stem_stride!r}"
            )
    tr, va, te = train_val_test(
        dataset, data_dir, val_fraction=val_fraction, **(dataset_options or {})
    )
    if not isinstance(tr.X, list):
        return PreparedInputs(tr, va, te)
    if (tr.info or {}).get("input_kind") == "text":
        return _featurize_text(tr, va, te, text or TextOptions())
    weights = None if images.weights is None or images.weights.lower() == "none" else images.weights
    if images.render_size is not None:
        from labelsphere.data.renders import DEFAULT_RENDER_CACHE, render_dataset
        from labelsphere.images.cnn import PIXEL_CNN

        size = images.render_size
        if not (isinstance(size, int) and 8 <= size <= 256):
            raise ValueError(f"render_size must be an integer in [8, 256], got {size!r}")
        cache = images.cache_dir.parent / "renders" if images.cache_dir else DEFAULT_RENDER_CACHE
        out = [render_dataset(d, size, cache, progress, images.num_workers) for d in (tr, va, te)]
        skipped = {d.name: len(d.info["skipped_images"]) for d in out}
        config = {"backbone": PIXEL_CNN, "backbone_weights": None, "frozen": False}
        if images.stem_stride is not None:
            config["stem_stride"] = images.stem_stride
        return PreparedInputs(out[0], out[1], out[2], None, config, skipped=skipped)
    if not images.frozen:
        if images.image_size is not None:
            raise ValueError("image_size is for frozen features; fine-tuning uses the backbone's")
        config = {
            "backbone": images.backbone,
            "backbone_weights": weights,
            "frozen": False,
            "num_workers": images.num_workers,
        }
        return PreparedInputs(tr, va, te, None, config)
    from labelsphere.images import image_features

    net = frozen_backbone(images)
    out = image_features(
        [tr, va, te],
        net,
        cache_dir=images.cache_dir or DEFAULT_FEATURE_CACHE,
        num_workers=images.num_workers,
        progress=progress,
    )
    skipped = {ds.name: len(ds.info.get("skipped_images", [])) for ds in out}
    for ds in out:
        if len(ds) == 0:
            raise ValueError(f"{ds.name}: every image failed to load ({skipped[ds.name]} skipped)")
    config = {"backbone": images.backbone, "backbone_weights": weights, "frozen": True}
    return PreparedInputs(out[0], out[1], out[2], net, config, skipped=skipped)


def _featurize_text(
    tr: MultiLabelDataset, va: MultiLabelDataset, te: MultiLabelDataset, options: TextOptions
) -> PreparedInputs:
    import dataclasses

    from labelsphere.text import TextFeaturizer

    params = dataclasses.asdict(options)
    if options.kind == "hashing":
        params.pop("max_features")
        params.pop("min_df")
    else:
        params.pop("n_features")
    featurizer = TextFeaturizer(**params).fit(tr.X)
    out = [
        dataclasses.replace(
            ds, X=featurizer.transform(ds.X), info={**(ds.info or {}), "texts": True}
        )
        for ds in (tr, va, te)
    ]
    return PreparedInputs(out[0], out[1], out[2], text_featurizer=featurizer)

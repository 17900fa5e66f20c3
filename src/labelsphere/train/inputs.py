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
    """

    backbone: str = "tf_efficientnet_lite0"
    weights: str | None = "default"
    frozen: bool = True
    cache_dir: Path | None = None
    num_workers: int = 0


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
    tr, va, te = train_val_test(
        dataset, data_dir, val_fraction=val_fraction, **(dataset_options or {})
    )
    if not isinstance(tr.X, list):
        return PreparedInputs(tr, va, te)
    if (tr.info or {}).get("input_kind") == "text":
        return _featurize_text(tr, va, te, text or TextOptions())
    weights = None if images.weights is None or images.weights.lower() == "none" else images.weights
    if not images.frozen:
        config = {
            "backbone": images.backbone,
            "backbone_weights": weights,
            "frozen": False,
            "num_workers": images.num_workers,
        }
        return PreparedInputs(tr, va, te, None, config)
    from labelsphere.images import create_backbone, image_features

    net = create_backbone(images.backbone, weights)
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

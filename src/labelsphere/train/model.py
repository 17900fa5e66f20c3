"""The network: a backbone (an MLP on features, or a timm model + MLP) followed by a head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from labelsphere.heads import MultiLabelHead, build_head
from labelsphere.train.config import TrainConfig

__all__ = ["MLP", "Classifier", "build_classifier", "image_backbone"]


class MLP(nn.Module):
    """Features (B, D) -> (B, hidden[-1]): Linear, GELU, dropout per hidden layer.

    With ``hidden=()`` it is the identity (a linear model once a head is added).
    ``input_dropout`` > 0 drops input features first (a regulariser for sparse bag-of-words
    inputs); at 0 no layer is added, so saved weights keep their names.
    """

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] = (512,),
        dropout: float = 0.0,
        input_dropout: float = 0.0,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout > 0 else []
        d = in_features
        for h in hidden:
            layers += [nn.Linear(d, h), nn.GELU(), nn.Dropout(dropout)]
            d = h
        self.net = nn.Sequential(*layers)
        self.out_features = d

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Classifier(nn.Module):
    """A backbone followed by a head; ``forward`` gives the head's outputs.

    ``loss`` and ``scores`` delegate to the head, so callers never branch on the head kind.
    """

    def __init__(self, backbone: nn.Module, head: MultiLabelHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        h = self.backbone(x)
        # The head runs in float32 even under autocast: mixed precision is for the network's
        # speed, while a bfloat16 cosine (3 significant digits) times a learned temperature
        # would reorder close labels and make the heads' comparison one of rounding.
        with torch.autocast(h.device.type, enabled=False):
            return self.head(h.float())

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.head.loss(outputs, targets)

    def scores(self, outputs: Tensor) -> Tensor:
        return self.head.scores(outputs)


def build_classifier(
    config: TrainConfig,
    in_features: int | None,
    n_labels: int,
    embeddings: np.ndarray | None,
    image_weights: str | Path | None = "config",
) -> Classifier:
    """Backbone (an MLP on features, a timm model + MLP when fine-tuning images, or the
    ``PixelCNN`` + MLP on renders when ``config.backbone == "pixel-cnn"``) and head.

    ``in_features`` is the feature dimension (``None`` for a fine-tuned image backbone, whose
    output size is its own); ``image_weights`` overrides ``config.backbone_weights`` (the
    model directory loads its own copy instead of the original file).
    """
    from labelsphere.images.cnn import PIXEL_CNN, PixelCNN

    if config.backbone == PIXEL_CNN:
        cnn = PixelCNN(stem_stride=config.stem_stride)  # from scratch on grayscale renders
        mlp = MLP(cnn.num_features, config.hidden, config.dropout, config.input_dropout)
        backbone: nn.Module = nn.Sequential(cnn, mlp)
        out = mlp.out_features
    elif config.backbone is not None and not config.frozen:
        from labelsphere.images import create_backbone

        weights = config.backbone_weights if image_weights == "config" else image_weights
        image = create_backbone(config.backbone, weights)
        mlp = MLP(image.num_features, config.hidden, config.dropout, config.input_dropout)
        backbone = nn.Sequential(image, mlp)
        out = mlp.out_features
    else:
        if in_features is None:
            raise ValueError("in_features is required for a model on features")
        backbone = MLP(in_features, config.hidden, config.dropout, config.input_dropout)
        out = backbone.out_features
    head = build_head(config.head, out, n_labels, embeddings, config.head_options)
    return Classifier(backbone, head)


def image_backbone(model: Classifier) -> nn.Module | None:
    """The timm backbone of a fine-tuned image model (``None`` for models on features)."""
    first = model.backbone[0] if isinstance(model.backbone, nn.Sequential) else None
    return first if first is not None and hasattr(first, "data_config") else None

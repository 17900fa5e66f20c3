"""``TrainConfig``: everything that defines a training run, stored as ``config.json``."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from labelsphere.heads.registry import DEFAULT_HEAD, HEAD_REGISTRY, check_options
from labelsphere.images.cnn import STEM_STRIDES

__all__ = ["SPARSE_TARGETS_ABOVE", "TrainConfig"]

# Label counts above which targets are sparse by default (a dense 256 x 65,536 batch is 64 MB).
SPARSE_TARGETS_ABOVE = 65_536


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored as ``config.json``).

    Head: ``head`` is a registered name (``HEAD_REGISTRY``; default ``DEFAULT_HEAD``,
    ``embedding-scale-cap``), ``head_options`` its class
    arguments, ``n_components`` the label embedding dimension d (``None``: the name's own, 256
    for every head but ``embedding-learned-prior``'s 512; capped at L - 1).

    Budget: ``epochs`` (or ``max_steps`` if set). Evaluation on the validation split every
    ``eval_every`` steps (default: once per epoch). ``patience`` evaluations without
    improvement of ``monitor`` stop early (``None``: never).

    Regularisation: ``dropout`` after each hidden layer, ``input_dropout`` on the inputs,
    AdamW ``weight_decay``, and ``mixup`` (the Beta(a, a) parameter of mixup on inputs and
    label vectors; 0 turns it off).

    Images: ``backbone`` names a timm model (``backbone_weights``: ``"default"`` for the
    packaged ImageNet weights, a local file, or ``None`` for random init). With ``frozen=True``
    the heads train on cached pooled features (see ``image_features``); with ``frozen=False``
    the backbone is fine-tuned end to end at ``lr * backbone_lr_scale``, images decoded by
    ``num_workers`` DataLoader workers with the backbone's training augmentation. With
    ``backbone="pixel-cnn"`` (renders, ``ImageOptions.render_size``) the ``PixelCNN`` trains
    from scratch, its stem downsampling by ``stem_stride`` (1 for 32-48 px, 4 for 224 px).

    Speed: ``amp`` trains under bfloat16 autocast on CUDA (no loss scaling needed; ignored on
    other devices); on CUDA the PixelCNN runs channels-last.

    Scale: ``sparse_targets`` hands the heads (B, L) sparse CSR label batches instead of dense
    ones (``None``: sparse above ``SPARSE_TARGETS_ABOVE`` labels, dense below, where the
    committed results were computed).
    """

    head: str = DEFAULT_HEAD
    head_options: dict[str, Any] = field(default_factory=dict)
    n_components: int | None = None
    embedding_options: dict[str, Any] = field(default_factory=dict)
    hidden: tuple[int, ...] = (512,)
    dropout: float = 0.0
    input_dropout: float = 0.0
    mixup: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 30
    max_steps: int | None = None
    warmup: float = 0.0
    schedule: str = "constant"
    eval_every: int | None = None
    patience: int | None = None
    monitor: str = "MAP@100"
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    checkpoint_every: int | None = None
    backbone: str | None = None
    backbone_weights: str | None = "default"
    frozen: bool = True
    backbone_lr_scale: float = 0.1
    num_workers: int = 0
    stem_stride: int = 1
    sparse_targets: bool | None = None

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden)
        if not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden
        ):
            raise ValueError(f"hidden must be layer widths, integers >= 1, got {list(hidden)}")
        self.hidden = tuple(int(h) for h in hidden)
        if self.head not in HEAD_REGISTRY:
            raise ValueError(f"head must be one of {sorted(HEAD_REGISTRY)}, got {self.head!r}")
        check_options(self.head, self.head_options, self.embedding_options)
        if self.schedule not in ("constant", "cosine", "linear"):
            raise ValueError(f"schedule must be constant, cosine or linear, got {self.schedule!r}")
        for name in ("lr", "batch_size", "epochs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        for name in ("dropout", "input_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.n_components is not None and not (
            isinstance(self.n_components, int) and self.n_components >= 1
        ):
            raise ValueError(
                f"n_components must be an integer >= 1 (None: the head's own), got {self.n_components!r}"
            )
        if self.stem_stride not in STEM_STRIDES:
            raise ValueError(f"stem_stride must be one of {STEM_STRIDES}, got {self.stem_stride!r}")
        if not (self.mixup >= 0.0 and math.isfinite(self.mixup)):
            raise ValueError(f"mixup is the Beta(a, a) parameter, >= 0 (0: off), got {self.mixup}")

    def extends(self, earlier: TrainConfig) -> bool:
        """Whether a finished run of ``earlier`` is the start of a run of this config.

        True when the two differ only in ``epochs``, this one has more, and nothing depends
        on the total: a constant rate without warmup, no ``max_steps`` and no early stop.
        Then the first ``earlier.epochs`` epochs of this run are ``earlier``'s run (the batches
        of each epoch are seeded by ``(seed, epoch)``), so ``train(resume=True)`` continues
        that run from its last checkpoint instead of starting again.

        Examples:
            >>> TrainConfig(epochs=10).extends(TrainConfig(epochs=3))
            True
            >>> TrainConfig(epochs=10, schedule="cosine").extends(
            ...     TrainConfig(epochs=3, schedule="cosine")
            ... )
            False
        """
        return (
            self.epochs > earlier.epochs
            and dataclasses.replace(earlier, epochs=self.epochs) == self
            and self.schedule == "constant"
            and self.warmup == 0
            and self.max_steps is None
            and self.patience is None
        )

    def use_sparse_targets(self, n_labels: int) -> bool:
        if self.sparse_targets is None:
            return n_labels > SPARSE_TARGETS_ABOVE
        return bool(self.sparse_targets)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_json(cls, obj: dict[str, Any], source: str = "config") -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(obj) - names
        if unknown:
            raise ValueError(f"{source}: unknown config fields {sorted(unknown)}")
        return cls(**obj)

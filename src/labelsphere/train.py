"""Training: one loop for every head, with evaluation, checkpoints, resume and early stopping.

A run is described by a ``TrainConfig`` (JSON-serialisable). ``train`` fits a ``Classifier``
(a backbone, here an MLP on features, followed by a head from ``labelsphere.heads``) on a
``MultiLabelDataset`` and writes into its run directory:

* ``metrics.jsonl``: one JSON line per evaluation (step, epoch, seconds, loss, metrics);
* ``checkpoints/step-N/``: weights and optimizer state (safetensors) and state (JSON), written
  to a temporary directory and renamed, with ``checkpoints/latest.json`` pointing at the
  newest complete one, so an interrupted run resumes (``resume=True``) exactly where it was;
* ``model/``: the best model (by validation MAP@100), self-contained for ``predict``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from tqdm import tqdm

from labelsphere.artifacts import (
    FormatError,
    atomic_write_text,
    check_format,
    read_json,
    write_json,
)
from labelsphere.data import MultiLabelDataset
from labelsphere.embedding import LabelEmbedding
from labelsphere.heads import (
    AsymmetricHead,
    EmbeddingHead,
    HybridHead,
    MultiLabelHead,
    SigmoidHead,
    SoftmaxHead,
)
from labelsphere.labels import LabelVocabulary
from labelsphere.metrics import evaluate, propensity_scores

__all__ = [
    "HEADS",
    "MLP",
    "Classifier",
    "TrainConfig",
    "TrainResult",
    "build_classifier",
    "evaluate_model",
    "image_features",
    "load_feature_extractor",
    "load_model",
    "predict_scores",
    "save_model",
    "train",
]

_MODEL_FORMAT = "labelsphere.Model"
_CKPT_FORMAT = "labelsphere.Checkpoint"
_FORMAT_VERSION = 1

# Head names and what they are. Options for each go in ``TrainConfig.head_options``.
HEADS: dict[str, str] = {
    "embedding": "PMI label embedding head; default loss: softmax over scaled cosines to the fixed label embeddings",
    "embedding-paper": "PMI label embedding exactly as Chollet (2016): SVD U*sqrt(S), cosine loss, dot decoding",
    "sigmoid": "linear to L logits, binary cross-entropy (the paper's baseline)",
    "softmax": "linear to L logits, softmax cross-entropy on the normalised multi-hot target",
    "asl": "linear to L logits, asymmetric loss (timm AsymmetricLossMultiLabel)",
    "hybrid": "sigmoid layer on the PMI basis plus free weights (W = E A + V), BCE + cosine on E A h",
    "pca": "ablation: the embedding head on a PCA/PLST embedding of Y (top right singular vectors)",
    "random": "ablation: the embedding head on a Gaussian random projection (compressed sensing)",
}

# The embedding head's defaults (set by the investigation in docs/results.md).
EMBEDDING_DEFAULTS: dict[str, Any] = {"loss": "softmax", "similarity": "cosine"}
# The paper's exact formulation, kept as the named head "embedding-paper".
PAPER_EMBEDDING = {"pmi": "zero", "diagonal": "self_information", "factorization": "svd"}


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored as ``config.json``).

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
    ``num_workers`` DataLoader workers with the backbone's training augmentation.
    """

    head: str = "embedding"
    head_options: dict[str, Any] = field(default_factory=dict)
    n_components: int = 256
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

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {sorted(HEADS)}, got {self.head!r}")
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
        if not (self.mixup >= 0.0 and math.isfinite(self.mixup)):
            raise ValueError(f"mixup is the Beta(a, a) parameter, >= 0 (0: off), got {self.mixup}")

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
        return self.head(self.backbone(x))

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.head.loss(outputs, targets)

    def scores(self, outputs: Tensor) -> Tensor:
        return self.head.scores(outputs)


# ---------------------------------------------------------------------- building
def label_embedding_for(config: TrainConfig, Y: sp.csr_matrix) -> np.ndarray | None:
    """The (L, d) label embedding the config's head needs, fitted on training labels ``Y``."""
    L = Y.shape[1]
    d = min(config.n_components, L - 1)
    if config.head in ("embedding", "embedding-paper", "hybrid"):
        opts = dict(config.embedding_options)
        if config.head == "embedding-paper":
            opts = {**PAPER_EMBEDDING, "similarity": "dot"}
        est = LabelEmbedding(n_components=d, random_state=config.seed, **opts).fit(Y)
        return est.embeddings_
    if config.head == "pca":
        # PLST (Tai & Lin, 2012): the principal directions of the label matrix.
        from sklearn.decomposition import TruncatedSVD

        svd = TruncatedSVD(n_components=d, random_state=config.seed).fit(Y.astype(np.float32))
        return (svd.components_.T * np.sqrt(svd.singular_values_)[None, :]).astype(np.float32)
    if config.head == "random":
        rng = np.random.default_rng(config.seed)
        return (rng.standard_normal((L, d)) / math.sqrt(d)).astype(np.float32)
    return None


def build_head(
    config: TrainConfig, in_features: int, n_labels: int, embeddings: np.ndarray | None
) -> MultiLabelHead:
    opts = dict(config.head_options)
    if config.head in ("embedding", "pca", "random"):
        assert embeddings is not None
        return EmbeddingHead(
            in_features, torch.from_numpy(embeddings), **{**EMBEDDING_DEFAULTS, **opts}
        )
    if config.head == "embedding-paper":
        assert embeddings is not None
        return EmbeddingHead(
            in_features, torch.from_numpy(embeddings), loss="cosine", similarity="dot"
        )
    if config.head == "hybrid":
        assert embeddings is not None
        return HybridHead(in_features, torch.from_numpy(embeddings), **opts)
    if config.head == "sigmoid":
        return SigmoidHead(in_features, n_labels, **opts)
    if config.head == "softmax":
        return SoftmaxHead(in_features, n_labels, **opts)
    return AsymmetricHead(in_features, n_labels, **opts)


def build_classifier(
    config: TrainConfig,
    in_features: int | None,
    n_labels: int,
    embeddings: np.ndarray | None,
    image_weights: str | Path | None = "config",
) -> Classifier:
    """Backbone (an MLP on features, or timm model + MLP when fine-tuning images) and head.

    ``in_features`` is the feature dimension (``None`` for a fine-tuned image backbone, whose
    output size is its own); ``image_weights`` overrides ``config.backbone_weights`` (the
    model directory loads its own copy instead of the original file).
    """
    if config.backbone is not None and not config.frozen:
        from labelsphere.backbones import create_backbone

        weights = config.backbone_weights if image_weights == "config" else image_weights
        image = create_backbone(config.backbone, weights)
        mlp = MLP(image.num_features, config.hidden, config.dropout, config.input_dropout)
        backbone: nn.Module = nn.Sequential(image, mlp)
        out = mlp.out_features
    else:
        if in_features is None:
            raise ValueError("in_features is required for a model on features")
        backbone = MLP(in_features, config.hidden, config.dropout, config.input_dropout)
        out = backbone.out_features
    head = build_head(config, out, n_labels, embeddings)
    return Classifier(backbone, head)


def image_backbone(model: Classifier) -> nn.Module | None:
    """The timm backbone of a fine-tuned image model (``None`` for models on features)."""
    first = model.backbone[0] if isinstance(model.backbone, nn.Sequential) else None
    return first if first is not None and hasattr(first, "data_config") else None


# ---------------------------------------------------------------------- data in memory
class FeatureBatches:
    """Mini-batches of (features, multi-hot labels) from in-memory arrays.

    Features may be dense or CSR; both become dense float32 tensors per batch (a bag of words
    of 2k features x 128 rows is 1 MB). The shuffling order of epoch e is a pure function of
    (seed, e), which is what makes resuming mid-epoch exact.
    """

    def __init__(self, X: np.ndarray | sp.csr_matrix, Y: sp.csr_matrix) -> None:
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        self.X = X if sp.issparse(X) else np.ascontiguousarray(X, dtype=np.float32)
        self.Y = sp.csr_matrix(Y)
        self.n = X.shape[0]

    def rows(self, idx: np.ndarray) -> tuple[Tensor, Tensor]:
        x = self.X[idx]
        if sp.issparse(x):
            x = x.toarray()
        y = self.Y[idx].toarray()
        return torch.from_numpy(np.asarray(x, dtype=np.float32)), torch.from_numpy(
            y.astype(np.float32)
        )

    def epoch(
        self, seed: int, epoch: int, batch_size: int, skip: int = 0
    ) -> Iterator[tuple[Tensor, Tensor]]:
        order = np.random.default_rng([seed, epoch]).permutation(self.n)
        # Drop the ragged last batch (equal-sized steps), unless the data is smaller than a batch.
        n_batches = self.steps_per_epoch(batch_size)
        for b in range(skip, n_batches):
            yield self.rows(order[b * batch_size : (b + 1) * batch_size])

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, self.n // batch_size)


class ImageBatches:
    """Mini-batches of (augmented images, multi-hot labels) decoded from files by a DataLoader.

    Same contract as ``FeatureBatches``: the order of epoch e is a pure function of (seed, e).
    Images that fail to load are dropped from their batch, warned about and counted in
    ``skipped`` (an epoch never stops on a bad file).
    """

    def __init__(self, paths: list[str], Y: sp.csr_matrix, data_config: dict, num_workers: int = 0):
        from labelsphere.images import ImageDataset, image_transform

        self.dataset = ImageDataset(paths, Y, image_transform(data_config, training=True))
        self.n = len(paths)
        self.num_workers = num_workers

    @property
    def skipped(self) -> list:
        return self.dataset.skipped

    def epoch(
        self, seed: int, epoch: int, batch_size: int, skip: int = 0
    ) -> Iterator[tuple[Tensor, Tensor]]:
        from torch.utils.data import DataLoader

        from labelsphere.images import collate_images

        order = np.random.default_rng([seed, epoch]).permutation(self.n)
        n_batches = self.steps_per_epoch(batch_size)
        batches = [
            order[b * batch_size : (b + 1) * batch_size].tolist() for b in range(skip, n_batches)
        ]
        # Augmentation randomness comes from torch's RNG, which checkpoints save and restore.
        loader = DataLoader(
            self.dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            collate_fn=collate_images,
        )
        for batch in loader:
            self.dataset.record(batch)
            if len(batch):
                yield batch.images, batch.labels

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, self.n // batch_size)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def predict_scores(
    model: Classifier,
    X: np.ndarray | sp.csr_matrix | list[str],
    device: torch.device,
    batch_size: int = 1024,
    num_workers: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (n, L) float32 of the model on features X, or on image files for an image model.

    Returns ``(scores, ok)``: ``ok`` (n,) is False for images that could not be loaded (their
    scores rows are 0); always True for features.
    """
    was_training = model.training
    model.eval()
    n_labels = model.head.n_labels
    try:
        if isinstance(X, list):
            from labelsphere.images import ImageDataset, image_transform

            image = image_backbone(model)
            if image is None:
                raise ValueError("this model takes feature vectors, not image files")
            ds = ImageDataset(X, None, image_transform(image.data_config, training=False))
            scores = np.zeros((len(X), n_labels), np.float32)
            ok = np.zeros(len(X), bool)
            for batch in ds.batches(min(batch_size, 64), num_workers=num_workers):
                s = model.scores(model(batch.images.to(device))).float().cpu().numpy()
                scores[batch.indices.numpy()] = s
                ok[batch.indices.numpy()] = True
            return scores, ok
        out = []
        for i in range(0, X.shape[0], batch_size):
            x = X[i : i + batch_size]
            x = x.toarray() if sp.issparse(x) else x
            xb = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)
            out.append(model.scores(model(xb)).float().cpu().numpy())
        scores = np.concatenate(out) if out else np.zeros((0, n_labels), np.float32)
        return scores, np.ones(len(scores), bool)
    finally:
        model.train(was_training)


def evaluate_model(
    model: Classifier,
    X: np.ndarray | sp.csr_matrix | list[str],
    Y: sp.csr_matrix,
    device: torch.device,
    propensities: np.ndarray | None = None,
) -> dict[str, float]:
    """MAP@100, mAP, P@1/3/5, R@k, nDCG@k and PSP@k of the model on (X, Y).

    Images that cannot be loaded are left out (``"n_skipped"`` says how many).
    """
    scores, ok = predict_scores(model, X, device)
    Y = sp.csr_matrix(Y)
    if not ok.all():
        scores, Y = scores[ok], Y[ok]
    m = evaluate(Y, scores=scores, ks=(1, 3, 5), map_k=100, propensities=propensities)
    out = {k: float(v) for k, v in m.items()}
    if not ok.all():
        out["n_skipped"] = int((~ok).sum())
    return out


# ---------------------------------------------------------------------- checkpoints
def _state_tensors(sd: dict[str, Any], prefix: str) -> tuple[dict[str, Tensor], Any]:
    """Split a (nested) state dict into flat tensors and a JSON skeleton referring to them."""
    tensors: dict[str, Tensor] = {}

    def walk(obj: Any, key: str) -> Any:
        if isinstance(obj, Tensor):
            name = f"{prefix}{key}"
            tensors[name] = obj.detach().cpu().contiguous()
            return {"__tensor__": name}
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [walk(k, f"{key}.k{i}"), walk(v, f"{key}.{i}")]
                    for i, (k, v) in enumerate(obj.items())
                ]
            }
        if isinstance(obj, (list, tuple)):
            return {
                "__list__": [walk(v, f"{key}.{i}") for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple),
            }
        if isinstance(obj, float) and not math.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj

    return tensors, walk(sd, "")


def _restore_state(skeleton: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__dict__" in skeleton:
            return {
                _restore_state(k, tensors): _restore_state(v, tensors)
                for k, v in skeleton["__dict__"]
            }
        if "__list__" in skeleton:
            items = [_restore_state(v, tensors) for v in skeleton["__list__"]]
            return tuple(items) if skeleton.get("tuple") else items
        if "__float__" in skeleton:
            return float(skeleton["__float__"])
    return skeleton


def _save_checkpoint(
    run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict
) -> None:
    from safetensors.torch import save_file

    ckpt_root = run_dir / "checkpoints"
    final = ckpt_root / f"step-{step}"
    tmp = ckpt_root / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        str(tmp / "model.safetensors"),
    )
    opt_tensors, opt_skeleton = _state_tensors(optimizer.state_dict(), "opt")
    rng = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"torch_cuda{i}"] = s
    save_file(
        {**opt_tensors, **{f"rng.{k}": v for k, v in rng.items()}},
        str(tmp / "optimizer.safetensors"),
    )
    (tmp / "state.json").write_text(
        json.dumps(
            {
                "format": _CKPT_FORMAT,
                "format_version": _FORMAT_VERSION,
                "step": step,
                "optimizer": opt_skeleton,
                **state,
            }
        )
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)  # the directory appears complete or not at all
    atomic_write_text(ckpt_root / "latest.json", json.dumps({"step": step, "path": final.name}))
    for old in ckpt_root.glob("step-*"):  # keep only the newest
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(run_dir: Path) -> tuple[dict[str, Tensor], dict[str, Tensor], dict] | None:
    from safetensors.torch import load_file

    latest = run_dir / "checkpoints" / "latest.json"
    if not latest.is_file():
        return None
    pointer = read_json(latest)
    path = run_dir / "checkpoints" / pointer["path"]
    state = read_json(path / "state.json")
    check_format(state, path / "state.json", _CKPT_FORMAT, _FORMAT_VERSION)
    try:
        return (
            load_file(str(path / "model.safetensors")),
            load_file(str(path / "optimizer.safetensors")),
            state,
        )
    except Exception as e:
        raise FormatError(f"{path}: unreadable checkpoint ({e})") from None


# ---------------------------------------------------------------------- model directory
def save_model(
    directory: Path,
    model: Classifier,
    config: TrainConfig,
    vocabulary: LabelVocabulary,
    in_features: int | None,
    extra: dict[str, Any] | None = None,
    feature_extractor: nn.Module | None = None,
) -> None:
    """Write a self-contained model directory: config, weights, label embedding, vocabulary.

    Files: ``model.json`` (format, config, shapes), ``model.safetensors`` (every weight,
    the fixed label embedding included as ``head.embeddings``), ``vocabulary.json``, and for a
    model trained on frozen image features, ``feature_extractor.safetensors`` plus its name and
    preprocessing in ``model.json``, so ``predict`` can go from image files to labels. The
    directory is built beside the target and swapped in, so a reader never sees half of it.
    """
    from safetensors.torch import save_file

    extra = dict(extra or {})
    if feature_extractor is not None:
        extra["feature_extractor"] = {
            "name": feature_extractor.name,
            "weights_id": feature_extractor.weights_id,
            "num_features": feature_extractor.num_features,
            "data_config": dict(feature_extractor.data_config),
        }

    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        str(tmp / "model.safetensors"),
    )
    vocabulary.save(tmp / "vocabulary.json")
    if feature_extractor is not None:
        save_file(
            {
                k: v.detach().cpu().contiguous()
                for k, v in feature_extractor.model.state_dict().items()
            },
            str(tmp / "feature_extractor.safetensors"),
        )
    image = image_backbone(model)
    if image is not None:
        extra["image_backbone"] = {"name": image.name, "data_config": dict(image.data_config)}
    write_json(
        tmp / "model.json",
        {
            "format": _MODEL_FORMAT,
            "format_version": _FORMAT_VERSION,
            "config": config.to_json(),
            "in_features": in_features,
            "n_labels": len(vocabulary),
            "embedding_dim": getattr(model.head, "dim", None),
            **extra,
        },
    )
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, directory)


def load_model(
    directory: Path, device: str | torch.device = "cpu"
) -> tuple[Classifier, dict[str, Any], LabelVocabulary]:
    """Load a model directory written by ``save_model``: (model, metadata, vocabulary)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_json(directory / "model.json")
    check_format(meta, directory / "model.json", _MODEL_FORMAT, _FORMAT_VERSION)
    config = TrainConfig.from_json(meta["config"], source=str(directory / "model.json"))
    vocab = LabelVocabulary.load(directory / "vocabulary.json")
    try:
        weights = load_file(str(directory / "model.safetensors"))
    except Exception as e:
        raise FormatError(f"{directory / 'model.safetensors'}: unreadable ({e})") from None
    emb = weights.get("head.embeddings")
    in_features = meta.get("in_features")
    model = build_classifier(
        config,
        None if in_features is None else int(in_features),
        len(vocab),
        None if emb is None else emb.numpy(),
        image_weights=None,  # a fine-tuned backbone's weights are in model.safetensors
    )
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise FormatError(
            f"{directory / 'model.safetensors'}: does not match model.json ({e})"
        ) from None
    model.to(resolve_device(device) if isinstance(device, str) else device).eval()
    return model, meta, vocab


def load_feature_extractor(directory: Path) -> nn.Module | None:
    """The frozen image backbone saved with a model trained on image features, else ``None``."""
    from labelsphere.backbones import create_backbone

    directory = Path(directory)
    meta = read_json(directory / "model.json")
    info = meta.get("feature_extractor")
    if info is None:
        return None
    return create_backbone(
        info["name"], directory / "feature_extractor.safetensors", data_config=info["data_config"]
    )


# ---------------------------------------------------------------------- the loop
@dataclass
class TrainResult:
    """What a run produced: the validation history and the best model's metrics."""

    run_dir: Path
    history: list[dict[str, Any]]
    best: dict[str, Any]
    steps: int
    seconds: float
    stopped_early: bool
    peak_rss_mb: float | None = None


class PeakMemory:
    """Peak resident memory of this process while the block runs, sampled every 50 ms (MB).

    ``peak_mb`` is the peak above the resident size at entry, i.e. what the run added. On a
    GPU, ``torch.cuda.max_memory_allocated`` is the figure to read instead.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb: float | None = None

    def __enter__(self) -> PeakMemory:
        import threading

        import psutil

        self._proc = psutil.Process()
        self._base = self._max = self._proc.memory_info().rss
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.wait(self.interval):
                self._max = max(self._max, self._proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._max = max(self._max, self._proc.memory_info().rss)
        self.peak_mb = (self._max - self._base) / 2**20


def mixup_batch(x: Tensor, y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """Mixup (Zhang et al., 2018): ``lam * (x, y) + (1 - lam) * (x, y)[perm]``, lam ~ Beta(a, a).

    Shapes: x (B, ...) float, y (B, L) multi-hot -> the same shapes, y now soft. Draws from
    torch's global generator (saved in checkpoints), so resumed runs mix identically.
    """
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0])
    return lam * x + (1.0 - lam) * x[perm], lam * y + (1.0 - lam) * y[perm]


def _lr_lambda(config: TrainConfig, total: int) -> Callable[[int], float]:
    warm = int(config.warmup * total)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if config.schedule == "constant":
            return 1.0
        t = (step - warm) / max(1, total - warm)
        return 0.5 * (1 + math.cos(math.pi * t)) if config.schedule == "cosine" else max(0.0, 1 - t)

    return f


def train(
    config: TrainConfig,
    train_data: MultiLabelDataset,
    val_data: MultiLabelDataset,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    feature_extractor: nn.Module | None = None,
) -> TrainResult:
    """Train ``config``'s model on ``train_data``, evaluating on ``val_data``; write ``run_dir``.

    Args:
        resume: continue from ``run_dir``'s latest checkpoint (same config required).
        progress: show a progress bar (loss, rate, ETA).
        stop_after: stop (as if interrupted) after this many steps; for tests and for
            splitting a long run. The checkpoint lets ``resume=True`` finish the run with
            the same result as an uninterrupted one.
        feature_extractor: the frozen image backbone that made ``train_data.X`` (see
            ``image_features``); saved into the model directory so it predicts from images.

    Returns:
        A ``TrainResult``; ``run_dir`` holds ``config.json``, ``metrics.jsonl``,
        ``result.json``, ``checkpoints/`` and the best model in ``model/``.
    """
    with PeakMemory() as mem:
        result = _train(
            config,
            train_data,
            val_data,
            Path(run_dir),
            resume,
            progress,
            stop_after,
            feature_extractor,
        )
    result.peak_rss_mb = mem.peak_mb
    info = read_json(result.run_dir / "result.json")
    write_json(result.run_dir / "result.json", {**info, "peak_rss_mb": mem.peak_mb})
    return result


def _train(
    config: TrainConfig,
    train_data: MultiLabelDataset,
    val_data: MultiLabelDataset,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    feature_extractor: nn.Module | None = None,
) -> TrainResult:
    images = isinstance(train_data.X, list)
    if train_data.X is None:
        raise ValueError(f"{train_data.name}: training needs inputs (features or images), got none")
    if images and (config.backbone is None or config.frozen):
        raise ValueError(
            f"{train_data.name} holds image files: fine-tuning needs backbone=NAME and frozen=False; "
            "for frozen features run image_features() first"
        )
    if train_data.vocabulary != val_data.vocabulary:
        raise ValueError("train and validation data must share one vocabulary")
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.json"
    if resume and config_path.exists():
        saved = TrainConfig.from_json(read_json(config_path), source=str(config_path))
        if saved != config:
            raise ValueError(
                f"{config_path}: --resume with a different config than the interrupted run"
            )
    write_json(config_path, config.to_json())

    torch.manual_seed(config.seed)
    t_setup = time.perf_counter()  # wall-clock includes fitting the label embedding
    device = resolve_device(config.device)
    n_labels = train_data.Y.shape[1]
    embeddings = label_embedding_for(config, train_data.Y)
    in_features = None if images else train_data.X.shape[1]
    model = build_classifier(config, in_features, n_labels, embeddings).to(device)
    image = image_backbone(model)
    if images:
        data: FeatureBatches | ImageBatches = ImageBatches(
            train_data.X, train_data.Y, image.data_config, config.num_workers
        )
        # Fine-tuning: the pretrained backbone learns slower than the new layers.
        image_ids = {id(p) for p in image.parameters()}
        groups = [
            {"params": [p for p in model.parameters() if id(p) not in image_ids], "lr": config.lr},
            {"params": list(image.parameters()), "lr": config.lr * config.backbone_lr_scale},
        ]
    else:
        data = FeatureBatches(train_data.X, train_data.Y)
        groups = [{"params": list(model.parameters()), "lr": config.lr}]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    spe = data.steps_per_epoch(config.batch_size)
    total = config.max_steps or config.epochs * spe
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total))
    eval_every = config.eval_every or spe
    ckpt_every = config.checkpoint_every or eval_every
    propensities = propensity_scores(train_data.Y)
    use_amp = config.amp and device.type == "cuda"

    step, history, best, bad_evals, elapsed = 0, [], {}, 0, 0.0
    running: float | None = None  # smoothed training loss
    metrics_path = run_dir / "metrics.jsonl"
    ckpt = _load_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        weights, opt_tensors, state = ckpt
        model.load_state_dict(weights)
        optimizer.load_state_dict(_restore_state(state["optimizer"], opt_tensors))
        torch.set_rng_state(opt_tensors["rng.torch_cpu"])
        step, history, best = state["step"], state["history"], state["best"]
        bad_evals, elapsed, running = state["bad_evals"], state["seconds"], state["running"]
        # The optimizer's param groups carry the current lr; the scheduler its step count.
        scheduler.load_state_dict(state["scheduler"])
        # metrics.jsonl may hold evaluations after the checkpoint: keep it consistent.
        atomic_write_text(metrics_path, "".join(json.dumps(h) + "\n" for h in history))
    elif metrics_path.exists():
        metrics_path.unlink()

    stopped_early = False
    bar = tqdm(
        total=total,
        initial=step,
        desc=f"{config.head} seed {config.seed}",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    t_start = (t_setup if ckpt is None else time.perf_counter()) - elapsed
    model.train()
    while step < total and not stopped_early:
        epoch, skip = divmod(step, spe)
        step_before = step
        for x, y in data.epoch(config.seed, epoch, config.batch_size, skip=skip):
            if config.mixup > 0:
                x, y = mixup_batch(x, y, config.mixup)
            x, y = x.to(device), y.to(device)
            with torch.autocast(device.type, enabled=use_amp):
                out = model(x)
            loss = model.loss(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise FloatingPointError(
                    f"loss became {lv} at step {step}; lower the learning rate"
                )
            running = lv if running is None else 0.98 * running + 0.02 * lv
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", refresh=False)
            if step % eval_every == 0 or step == total:
                seconds = time.perf_counter() - t_start
                m = evaluate_model(model, val_data.X, val_data.Y, device, propensities)
                model.train()
                rec = {"step": step, "epoch": step / spe, "seconds": seconds, "loss": running, **m}
                history.append(rec)
                with open(metrics_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
                if not best or m[config.monitor] > best[config.monitor]:
                    best, bad_evals = rec, 0
                    save_model(
                        run_dir / "model",
                        model,
                        config,
                        train_data.vocabulary,
                        in_features,
                        feature_extractor=feature_extractor,
                    )
                else:
                    bad_evals += 1
                    if config.patience is not None and bad_evals >= config.patience:
                        stopped_early = True
            interrupted = stop_after is not None and step >= stop_after
            if step % ckpt_every == 0 or step == total or stopped_early or interrupted:
                _save_checkpoint(
                    run_dir,
                    step,
                    model,
                    optimizer,
                    {
                        "history": history,
                        "best": best,
                        "bad_evals": bad_evals,
                        "running": running,
                        "scheduler": scheduler.state_dict(),  # JSON: ints, floats, [None] lambdas
                        "seconds": time.perf_counter() - t_start,
                    },
                )
            if stopped_early or step >= total or interrupted:
                break
        if stop_after is not None and step >= stop_after:
            break
        if step == step_before:
            # Every image of the epoch failed to load (each was warned about): nothing to learn.
            raise RuntimeError(
                f"{train_data.name}: an epoch produced no batch; see the warnings above"
            )
    bar.close()
    seconds = time.perf_counter() - t_start
    result = TrainResult(run_dir, history, best, step, seconds, stopped_early)
    write_json(
        run_dir / "result.json",
        {
            "best": best,
            "steps": step,
            "seconds": seconds,
            "stopped_early": stopped_early,
            "complete": step >= total or stopped_early,
        },
    )
    return result


def image_features(
    datasets: list[MultiLabelDataset],
    backbone: nn.Module,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
) -> list[MultiLabelDataset]:
    """Frozen mode: replace each dataset's image paths by the backbone's pooled features.

    Features come from (and go to) the fp16 cache in ``cache_dir``; images that cannot be
    loaded are dropped, and ``info["skipped_images"]`` lists them. Returns new datasets with
    ``X`` float32 (n', F).
    """
    from labelsphere.images import extract_features

    out = []
    for ds in datasets:
        if not isinstance(ds.X, list):
            raise ValueError(f"{ds.name}: expected image paths in X")
        feats, ok = extract_features(
            backbone,
            ds.X,
            cache_dir=cache_dir,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=progress,
        )
        keep = np.flatnonzero(ok)
        sub = ds.subset(keep)
        skipped = [ds.X[i] for i in np.flatnonzero(~ok)]
        out.append(
            dataclasses.replace(
                sub,
                X=feats[keep].astype(np.float32),
                info={**(sub.info or {}), "skipped_images": skipped, "backbone": backbone.name},
            )
        )
    return out

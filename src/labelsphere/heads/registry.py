"""One entry per head name: its class, the arguments the name sets, and the label basis it needs.

A name is what ``--head`` and ``compare --heads`` take. ``HEAD_REGISTRY[name]`` says which
``MultiLabelHead`` class it builds, which of the class's arguments the name sets by default
(``defaults``, overridable by a spec) or fixes (``fixed``, an error to set), and which (L, d)
label basis the head is built on (``basis``: the PMI ``LabelEmbedding``, a PCA of Y, a random
projection, or none). Everything that builds heads goes through :func:`build_head` and
:func:`label_basis`; everything that checks options goes through :func:`check_options`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch

from labelsphere.embedding import LabelEmbedding
from labelsphere.heads.base import MultiLabelHead
from labelsphere.heads.embedding import EmbeddingHead
from labelsphere.heads.hybrid import HybridHead
from labelsphere.heads.linear import AsymmetricHead, SigmoidHead, SoftmaxHead

__all__ = [
    "DEFAULT_HEAD",
    "DEFAULT_N_COMPONENTS",
    "HEADS",
    "HEAD_REGISTRY",
    "PAPER_EMBEDDING",
    "HeadEntry",
    "build_head",
    "check_options",
    "embedding_parameters",
    "head_entry",
    "head_parameters",
    "label_basis",
]

Basis = Literal["pmi", "pca", "random"]

# The paper's exact label embedding (Chollet, 2016): SVD U sqrt(S) of the PMI matrix with the
# self-information diagonal, decoded by dot product.
PAPER_EMBEDDING: Mapping[str, Any] = MappingProxyType(
    {"pmi": "zero", "diagonal": "self_information", "factorization": "svd", "similarity": "dot"}
)
# Arguments the registry passes itself, so a spec cannot set them.
_HEAD_ARGS = {"self", "in_features", "n_labels", "embeddings"}
_EMBEDDING_ARGS = {"n_components", "random_state"}
# The label embedding dimension d of a head whose name does not set its own.
DEFAULT_N_COMPONENTS = 256
# The head a run trains when none is named: the one that won where it was measured
# (docs/paper_regime.md, "The default head" and session 14; docs/scale.md says when the
# fixed-PMI ``embedding`` head is the one).
DEFAULT_HEAD = "embedding-scale-cap"


def _frozen(d: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class HeadEntry:
    """What a head name builds.

    Attributes:
        name: the name used in specs (``"embedding"``).
        description: one line for ``--help`` and reports.
        head: the ``MultiLabelHead`` class.
        defaults: class arguments this name sets; a spec may override them.
        fixed: class arguments this name fixes; a spec that sets one is an error.
        basis: the (L, d) label basis the head is built on, ``None`` for heads over L logits.
        embedding_fixed: ``LabelEmbedding`` parameters this name fixes (``basis="pmi"``).
        n_components: the embedding dimension d this name uses when the run does not set one
            (``TrainConfig.n_components=None``, the default).
    """

    name: str
    description: str
    head: type[MultiLabelHead]
    defaults: Mapping[str, Any] = field(default_factory=_frozen)
    fixed: Mapping[str, Any] = field(default_factory=_frozen)
    basis: Basis | None = None
    embedding_fixed: Mapping[str, Any] = field(default_factory=_frozen)
    n_components: int = DEFAULT_N_COMPONENTS


def _learned_prior(name: str, description: str, **options: Any) -> HeadEntry:
    """A head of the ``embedding-learned-prior`` family: the PMI label table learned at d = 512,
    a per-label bias started at the label priors, and ``options`` on top."""
    return HeadEntry(
        name,
        description,
        EmbeddingHead,
        defaults=_frozen({"learn_embeddings": True, "bias": True, "prior_bias": True, **options}),
        basis="pmi",
        n_components=512,
    )


HEAD_REGISTRY: dict[str, HeadEntry] = {
    e.name: e
    for e in (
        HeadEntry(
            "embedding",
            "PMI label embedding head; default loss: softmax over scaled cosines to the fixed label embeddings",
            EmbeddingHead,
            basis="pmi",
        ),
        HeadEntry(
            "embedding-learned",
            "the embedding head with the label embeddings trained, initialised from PMI",
            EmbeddingHead,
            defaults=_frozen({"learn_embeddings": True}),
            basis="pmi",
        ),
        _learned_prior(
            "embedding-learned-prior",
            "embedding-learned at d=512 with a per-label bias started at the label priors "
            "(the frozen iconify-icons winner)",
        ),
        _learned_prior(
            "embedding-pal",
            "embedding-learned-prior with the pick-all-labels softmax: each positive its own term, "
            "consistent for precision@k (Menon et al., 2019)",
            pick_all=True,
        ),
        _learned_prior(
            "embedding-slow-scale",
            "embedding-learned-prior with its temperature (scale) learned at 0.3x the rate: "
            "a slower warm-up that overfits later; the default in sessions 14-18 "
            "(docs/paper_regime.md)",
            scale_lr_scale=0.3,
        ),
        _learned_prior(
            "embedding-scale-cap",
            "embedding-learned-prior with its temperature (scale) learned at the full rate up to "
            "15 and held there: the fast warm-up without the sharpening that overfits; "
            "the default since session 19 (docs/paper_regime.md)",
            max_scale=15.0,
        ),
        _learned_prior(
            "embedding-free",
            "embedding-scale-cap with a free per-label linear layer on the head's input beside "
            "the scaled cosine, started at zero and trained at 0.1x the rate: the sigmoid "
            "head's per-label weights, added late; ahead of the default on frozen iconify "
            "features, behind it end to end (docs/paper_regime.md, sessions 24-25)",
            max_scale=15.0,
            free_logits=True,
            free_lr_scale=0.1,
        ),
        _learned_prior(
            "embedding-free-unit",
            "embedding-free with the free layer on the unit-normalised input, trained at 3x the "
            "rate: like the cosine it ignores the input's norm; ahead of embedding-free on the "
            "full frozen iconify set at 1-3 epochs (docs/paper_regime.md, session 26)",
            max_scale=15.0,
            free_logits=True,
            free_lr_scale=3.0,
            free_normalize=True,
        ),
        _learned_prior(
            "embedding-label-scale",
            "embedding-scale-cap with a learned per-label gain on the scaled cosine (each label "
            "its own temperature, as a sigmoid layer's weight norms are); level with the "
            "default early on frozen 40k, behind at 10 epochs (docs/paper_regime.md, session 26)",
            max_scale=15.0,
            label_scale=True,
        ),
        _learned_prior(
            "embedding-two-way",
            "embedding-scale-cap with a second softmax over the batch's samples for each label in "
            "the batch (CLIP's other direction), which trains each label's ranking of samples, "
            "per-label AP's measure (docs/paper_regime.md, session 31)",
            max_scale=15.0,
            sample_softmax=1.0,
        ),
        HeadEntry(
            "embedding-glas",
            "embedding-learned with the GLaS regulariser (Guo et al., 2019) pulling E E^T to co-occurrence",
            EmbeddingHead,
            defaults=_frozen({"learn_embeddings": True, "glas": 1.0}),
            basis="pmi",
        ),
        HeadEntry(
            "embedding-paper",
            "PMI label embedding exactly as Chollet (2016): SVD U*sqrt(S), cosine loss, dot decoding",
            EmbeddingHead,
            fixed=_frozen({"loss": "cosine", "similarity": "dot"}),
            basis="pmi",
            embedding_fixed=PAPER_EMBEDDING,
        ),
        HeadEntry(
            "sigmoid",
            "linear to L logits, binary cross-entropy (the paper's baseline)",
            SigmoidHead,
        ),
        HeadEntry(
            "sigmoid-prior",
            "the sigmoid baseline with each label's bias started at its log prior odds (fair baseline)",
            SigmoidHead,
            defaults=_frozen({"prior_bias": True}),
        ),
        HeadEntry(
            "softmax",
            "linear to L logits, softmax cross-entropy on the normalised multi-hot target",
            SoftmaxHead,
        ),
        HeadEntry(
            "asl",
            "linear to L logits, asymmetric loss (timm AsymmetricLossMultiLabel)",
            AsymmetricHead,
        ),
        HeadEntry(
            "hybrid",
            "sigmoid layer on the PMI basis plus free weights (W = E A + V), BCE + cosine on E A h",
            HybridHead,
            basis="pmi",
        ),
        HeadEntry(
            "pca",
            "ablation: the embedding head on a PCA/PLST embedding of Y (top right singular vectors)",
            EmbeddingHead,
            basis="pca",
        ),
        HeadEntry(
            "random",
            "ablation: the embedding head on a Gaussian random projection (compressed sensing)",
            EmbeddingHead,
            basis="random",
        ),
    )
}

# Name -> description (the public table of earlier versions).
HEADS: dict[str, str] = {name: e.description for name, e in HEAD_REGISTRY.items()}


def head_entry(name: str) -> HeadEntry:
    """The registry entry of ``name``; ``ValueError`` listing the names if there is none."""
    try:
        return HEAD_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r}; choose one of {sorted(HEAD_REGISTRY)}") from None


def head_parameters(name: str) -> list[str]:
    """The class arguments a spec of head ``name`` may set (its signature, less fixed ones)."""
    entry = head_entry(name)
    params = inspect.signature(entry.head.__init__).parameters
    return sorted(set(params) - _HEAD_ARGS - set(entry.fixed))


def embedding_parameters(name: str) -> list[str]:
    """The ``LabelEmbedding`` parameters a spec of head ``name`` may set (none without PMI)."""
    entry = head_entry(name)
    if entry.basis != "pmi":
        return []
    return sorted(set(LabelEmbedding().get_params()) - _EMBEDDING_ARGS - set(entry.embedding_fixed))


def check_options(
    name: str, head_options: Mapping[str, Any], embedding_options: Mapping[str, Any]
) -> None:
    """Raise ``ValueError`` naming any option head ``name`` does not take, or any bad value.

    Values are checked by building the head on a tiny basis and validating the embedding's
    parameters, so a bad spec fails before any data is read or any embedding fitted.
    """
    entry = head_entry(name)
    for kind, given, allowed, fixed in (
        ("head", head_options, head_parameters(name), entry.fixed),
        ("label-embedding", embedding_options, embedding_parameters(name), entry.embedding_fixed),
    ):
        for key in given:
            if key in fixed:
                raise ValueError(f"head {name!r} fixes {key}={fixed[key]!r}; it cannot be set")
            if key not in allowed:
                raise ValueError(
                    f"head {name!r} has no {kind} option {key!r}; valid: {allowed or 'none'}"
                )
    _check_types(entry, head_options)
    try:
        _make(entry, 2, 3, torch.zeros(3, 2) if entry.basis else None, head_options)
    except TypeError as e:
        raise ValueError(f"head {name!r}: {e}") from None
    if embedding_options:
        LabelEmbedding(n_components=1, **{**embedding_options})._check_params(n_labels=2)


# Spec values parse as JSON, so ``true`` is a bool and ``maybe`` a string; a class argument
# annotated with one of these types must get it, or ``bool("maybe")`` would silently be True.
_ANNOTATED_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
}


def _check_types(entry: HeadEntry, options: Mapping[str, Any]) -> None:
    params = inspect.signature(entry.head.__init__).parameters
    for key, value in options.items():
        annotation = params[key].annotation if key in params else None
        want = _ANNOTATED_TYPES.get(annotation if isinstance(annotation, str) else "")
        if want is None:
            continue
        if not isinstance(value, want) or (annotation != "bool" and isinstance(value, bool)):
            raise ValueError(
                f"head {entry.name!r}: {key} must be of type {annotation}, got {value!r}"
            )


def _make(
    entry: HeadEntry,
    in_features: int,
    n_labels: int,
    basis: torch.Tensor | None,
    options: Mapping[str, Any],
) -> MultiLabelHead:
    kwargs = {**entry.defaults, **options, **entry.fixed}
    if entry.basis is None:
        return entry.head(in_features, n_labels, **kwargs)
    assert basis is not None, f"head {entry.name!r} needs a label basis"
    return entry.head(in_features, basis, **kwargs)


def build_head(
    name: str,
    in_features: int,
    n_labels: int,
    basis: np.ndarray | None,
    options: Mapping[str, Any] | None = None,
) -> MultiLabelHead:
    """Head ``name`` on ``in_features`` features over ``n_labels`` labels.

    Args:
        basis: the (L, d) label basis from :func:`label_basis` for heads that have one.
        options: class arguments from the spec (checked by :func:`check_options`).
    """
    entry = head_entry(name)
    t = None if basis is None else torch.from_numpy(np.asarray(basis, dtype=np.float32))
    return _make(entry, in_features, n_labels, t, dict(options or {}))


def label_basis(
    name: str,
    Y: sp.csr_matrix,
    n_components: int | None,
    seed: int,
    embedding_options: Mapping[str, Any] | None = None,
) -> np.ndarray | None:
    """The (L, d) label basis head ``name`` needs, fitted on training labels ``Y`` (n, L).

    ``d = min(n_components, L - 1)``; ``n_components=None`` takes the name's own
    (``HeadEntry.n_components``). ``None`` for heads over L logits.
    """
    entry = head_entry(name)
    L = Y.shape[1]
    d = min(entry.n_components if n_components is None else n_components, L - 1)
    if entry.basis == "pmi":
        opts = {**(embedding_options or {}), **entry.embedding_fixed}
        return LabelEmbedding(n_components=d, random_state=seed, **opts).fit(Y).embeddings_
    if entry.basis == "pca":
        # PLST (Tai & Lin, 2012): the principal directions of the label matrix.
        from sklearn.decomposition import TruncatedSVD

        svd = TruncatedSVD(n_components=d, random_state=seed).fit(Y.astype(np.float32))
        return (svd.components_.T * np.sqrt(svd.singular_values_)[None, :]).astype(np.float32)
    if entry.basis == "random":
        rng = np.random.default_rng(seed)
        return (rng.standard_normal((L, d)) / math.sqrt(d)).astype(np.float32)
    return None

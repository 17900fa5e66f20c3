"""``Predictor``: a loaded model directory that scores inputs and ranks labels (the kinds of
model: :mod:`labelsphere.predict`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch

from labelsphere.calibration import THRESHOLDS_FILE, LabelThresholds, set_f1
from labelsphere.data import MultiLabelDataset
from labelsphere.decode import topk
from labelsphere.device import resolve_device
from labelsphere.labels import LabelVocabulary
from labelsphere.metrics import propensities_from_counts
from labelsphere.predict.inputs import ROW_SUFFIXES, load_split, read_rows
from labelsphere.train.batches import input_tensor
from labelsphere.train.evaluation import (
    FULL_SCORES_LIMIT,
    blocked_metrics,
    predict_scores,
    score_metrics,
)
from labelsphere.train.model import Classifier
from labelsphere.train.model_dir import (
    load_feature_extractor,
    load_label_counts,
    load_model,
    load_text_featurizer,
    read_model_json,
)

__all__ = ["ModelKind", "Prediction", "Predictor", "evaluate_model_dir"]

ModelKind = Literal["features", "frozen-image", "image", "pixels", "text"]


@dataclass
class Prediction:
    """The top-k labels of one input; ``error`` says why there are none (an unreadable image)."""

    input: str
    labels: list[tuple[str, float]]
    error: str | None = None
    # The calibrated set (label, calibrated score = score - the label's threshold), best first;
    # None when the model has no thresholds or none were asked for.
    set: list[tuple[str, float]] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"input": self.input, "error": self.error}
        out: dict[str, Any] = {
            "input": self.input,
            "labels": [{"label": n, "score": s} for n, s in self.labels],
        }
        if self.set is not None:
            out["set"] = [{"label": n, "calibrated_score": s} for n, s in self.set]
        return out


class Predictor:
    """A loaded model that scores inputs. Build it with :meth:`load`.

    Attributes:
        model: the ``Classifier`` in eval mode.
        meta: ``model.json``.
        vocabulary: the labels, in score-column order.
        kind: ``"features"``, ``"frozen-image"`` or ``"image"``.
        feature_extractor: the frozen backbone of a ``"frozen-image"`` model, else ``None``.
        label_counts: (training label counts (L,), number of training samples), for PSP@k;
            ``None`` for models saved before they were kept.
        prior_adjustment: tau >= 0. Labels are ranked (``predict``, ``topk``, ``evaluate``) by
            ``score - tau * log(prior)``, the prior being the label's training count over the
            training sample count (unseen labels as if seen once): a post-hoc logit adjustment
            (Menon et al., 2021, "Long-tail learning via logit adjustment") that moves rarer
            labels up. 0 (the default) ranks by the head's scores. ``scores`` and calibrated
            sets always use the head's own scores. Pick tau on validation
            (``benchmarks/label_diagnostics.py``); docs/paper_regime.md, "Session 22", has
            what it changed on iconify-icons.

    Examples:
        >>> p = Predictor.load("runs/bib/model")  # doctest: +SKIP
        >>> p.predict(X_test[:2], k=5)  # doctest: +SKIP
        [Prediction(input='0', labels=[('TAG_...', 3.1), ...]), ...]
    """

    def __init__(
        self,
        model: Classifier,
        meta: dict[str, Any],
        vocabulary: LabelVocabulary,
        feature_extractor: Any = None,
        label_counts: tuple[np.ndarray, int] | None = None,
        source: Path | None = None,
        text_featurizer: Any = None,
        prior_adjustment: float = 0.0,
    ) -> None:
        self.model = model
        self.meta = meta
        self.vocabulary = vocabulary
        self.feature_extractor = feature_extractor
        self.label_counts = label_counts
        self.source = source
        self.text_featurizer = text_featurizer
        self.prior_adjustment = prior_adjustment
        self.thresholds: LabelThresholds | None = None
        self._unit_vectors: np.ndarray | None = None
        self._indexes: dict[str, Any] = {}
        # Where a frozen-image model caches its backbone features (None: no cache).
        self.feature_cache: Path | None = None
        self.device = next(model.parameters()).device

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        device: str | torch.device = "cpu",
        prior_adjustment: float = 0.0,
    ) -> Predictor:
        """Load a model directory written by ``train`` (``RUN/model``)."""
        model_dir = Path(model_dir)
        meta = read_model_json(model_dir)
        model, meta, vocab = load_model(model_dir, device=resolve_device(device))
        extractor = load_feature_extractor(model_dir, meta)
        text = load_text_featurizer(model_dir, meta)
        counts = load_label_counts(model_dir)
        out = cls(model, meta, vocab, extractor, counts, model_dir, text, prior_adjustment)
        out.log_priors()  # a tau the model cannot apply fails here, not at the first request
        if (model_dir / THRESHOLDS_FILE).is_file():
            out.thresholds = LabelThresholds.load(model_dir / THRESHOLDS_FILE, len(vocab))
        return out

    # ------------------------------------------------------------------ what it takes
    @property
    def kind(self) -> ModelKind:
        if self.text_featurizer is not None:
            return "text"
        if self.feature_extractor is not None:
            return "frozen-image"
        if self.meta.get("pixel_input"):
            return "pixels"
        return "image" if self.meta.get("image_backbone") else "features"

    @property
    def pixel_size(self) -> int | None:
        """The side S of the (S, S) renders a ``"pixels"`` model takes (``None`` otherwise)."""
        info = self.meta.get("pixel_input")
        return int(info["size"]) if info else None

    @property
    def in_features(self) -> int | None:
        """Feature-row width the model takes (``None`` for a fine-tuned image model)."""
        n = self.meta.get("in_features")
        return None if n is None else int(n)

    @property
    def n_labels(self) -> int:
        return len(self.vocabulary)

    def _check_rows(self, X: np.ndarray | sp.spmatrix, what: str) -> None:
        size = self.pixel_size
        if size is not None:
            if sp.issparse(X) or X.shape[1:] != (size, size) or X.dtype != np.uint8:
                raise ValueError(
                    f"{what}: this model takes uint8 ({size}, {size}) renders, "
                    f"got {X.dtype} {tuple(X.shape[1:])}"
                )
            return
        if self.in_features is None:
            raise ValueError(f"{what}: this model takes image files, not feature rows")
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(
                f"{what}: rows have {X.shape[-1]} features, the model expects {self.in_features}"
            )
        values = X.data if sp.issparse(X) else X
        if not np.isfinite(np.asarray(values, dtype=np.float64)).all():
            raise ValueError(f"{what}: feature rows contain NaN or infinity")

    # ------------------------------------------------------------------ scoring
    def log_priors(self) -> np.ndarray | None:
        """``tau * log(prior)`` (L,) float32 that ranking subtracts, ``None`` when tau is 0.

        Raises ValueError for a tau that is not a finite number >= 0, or a model saved
        without its training label counts.
        """
        tau = self.prior_adjustment
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not np.isfinite(tau):
            raise ValueError(f"prior_adjustment must be a finite number >= 0, got {tau!r}")
        if tau < 0:
            raise ValueError(f"prior_adjustment must be >= 0, got {tau!r}")
        if tau == 0:
            return None
        if self.label_counts is None:
            raise ValueError(
                f"prior_adjustment needs the training label counts, which "
                f"{self.source or 'this model'} was saved without (label_counts.safetensors)"
            )
        counts, n = self.label_counts
        return (tau * np.log(np.maximum(counts, 1) / max(n, 1))).astype(np.float32)

    def _ranking(self, scores: np.ndarray) -> np.ndarray:
        """The scores labels are ranked by: the head's, less ``tau * log(prior)``."""
        shift = self.log_priors()
        return scores if shift is None else scores - shift

    def scores(
        self, inputs: np.ndarray | sp.spmatrix | Sequence[str | Path], num_workers: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores (n, L) float32 for feature rows (n, F), n image files, or n texts.

        Returns ``(scores, ok)``: ``ok`` (n,) is False for images that could not be loaded
        (each warned about; their rows are 0).
        """
        if isinstance(inputs, (np.ndarray, sp.spmatrix)):
            X = inputs if sp.issparse(inputs) or inputs.ndim == 3 else np.atleast_2d(inputs)
            self._check_rows(X, "inputs")
            return predict_scores(self.model, X, self.device, num_workers=num_workers)
        if self.kind == "text":
            X = self.text_featurizer.transform(inputs)
            return predict_scores(self.model, X, self.device)
        paths = [str(p) for p in inputs]
        if self.kind == "features":
            raise ValueError(
                f"{self.source or 'this model'} was trained on feature vectors: give .npy/.npz "
                "rows, not images"
            )
        if self.kind == "image":
            return predict_scores(self.model, paths, self.device, num_workers=num_workers)
        if self.kind == "pixels":
            from labelsphere.data.renders import render_icons

            renders, ok = render_icons(paths, self.pixel_size, progress=False)
            scores, _ = predict_scores(self.model, renders, self.device)
            scores[~ok] = 0.0
            return scores, ok
        from labelsphere.images import extract_features

        feats, ok = extract_features(
            self.feature_extractor,
            paths,
            cache_dir=self.feature_cache,
            progress=False,
            device=self.device,
            num_workers=num_workers,
        )
        scores, _ = predict_scores(self.model, feats.astype(np.float32), self.device)
        scores[~ok] = 0.0
        return scores, ok

    def predict(
        self,
        inputs: np.ndarray | sp.spmatrix | Sequence[str | Path],
        k: int = 5,
        threshold: float | str | None = None,
        names: Sequence[str] | None = None,
        backend: str | None = None,
    ) -> list[Prediction]:
        """Top-k labels for each input (rows, image files or texts).

        ``backend`` (``"exact"``, ``"faiss-flat"``, ``"faiss-hnsw"``, ``"faiss-ivf"``) ranks the
        labels of an embedding head through a ``labelsphere.decode.LabelIndex`` over its label
        vectors, without the (n, L) score matrix (what a million labels need); ``None``
        scores every label. Not with ``threshold="calibrated"``, which needs every score.

        ``threshold``: a number keeps the top-k labels scoring at least that; ``"calibrated"``
        also returns each input's calibrated set (every label whose score passes its
        validation-fitted threshold; see ``labelsphere.calibration``). With a
        ``prior_adjustment``, the top-k labels and their scores are the adjusted ones (the
        number is compared with those); the calibrated set uses the head's own scores.
        """
        calibrated = threshold == "calibrated"
        if calibrated:
            if self.thresholds is None:
                raise ValueError(
                    f"{self.source or 'this model'} has no calibrated thresholds "
                    "(thresholds.safetensors); retrain, or give a number"
                )
            threshold = None
        elif isinstance(threshold, str):
            try:
                threshold = float(threshold)
            except ValueError:
                raise ValueError(
                    f"threshold must be a number or 'calibrated', got {threshold!r}"
                ) from None
        if backend is not None:
            if calibrated:
                raise ValueError("calibrated sets need every label's score: use backend=None")
            idx, vals = self.topk(inputs, k, backend)
            scores, ok = None, np.ones(len(idx), bool)
        else:
            scores, ok = self.scores(inputs)
        if names is None:
            names = (
                [str(i) for i in range(len(ok))]
                if isinstance(inputs, (np.ndarray, sp.spmatrix)) or self.kind == "text"
                else [str(p) for p in inputs]
            )
        out = []
        if scores is not None:
            ranking = self._ranking(scores)
            idx, vals = topk(ranking, min(k, self.n_labels)) if len(scores) else ([], [])
        for i, name in enumerate(names):
            if not ok[i]:
                out.append(Prediction(name, [], "could not load the image (see the warning above)"))
                continue
            labels = [
                (self.vocabulary.names[j], float(v))
                for j, v in zip(idx[i], vals[i], strict=True)
                if threshold is None or v >= threshold
            ]
            chosen = None
            if calibrated:
                margin = self.thresholds.margins(scores[i : i + 1])[0]
                members = np.flatnonzero(margin >= 0)
                members = members[np.argsort(-margin[members], kind="stable")]
                chosen = [(self.vocabulary.names[j], float(margin[j])) for j in members]
            out.append(Prediction(name, labels, set=chosen))
        return out

    def topk(
        self, inputs: np.ndarray | sp.spmatrix | Sequence[str], k: int, backend: str = "exact"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k label indices and scores (n, k) through a ``LabelIndex`` (embedding heads).

        The scores are the head's own (``Predictor.scores``, less the ``prior_adjustment``)
        for the labels returned, up to float rounding; approximate backends may miss some of
        the true top k.
        """
        from labelsphere.decode import LabelIndex
        from labelsphere.heads import EmbeddingHead

        head = self.model.head
        if not isinstance(head, EmbeddingHead):
            raise ValueError(
                f"backend={backend!r} needs a label-embedding head; this model's head is "
                f"{type(head).__name__} (use backend=None)"
            )
        if isinstance(inputs, (np.ndarray, sp.spmatrix)):
            X = inputs if sp.issparse(inputs) or inputs.ndim == 3 else np.atleast_2d(inputs)
            self._check_rows(X, "inputs")
        elif self.kind == "text":
            X = self.text_featurizer.transform(inputs)
        else:
            raise ValueError("backend= takes feature rows or texts; image models score with None")
        shift = self.log_priors()
        key = (backend, self.prior_adjustment)
        if key not in self._indexes:
            keys, factor = head.index_keys()
            keys = keys.cpu().numpy()
            if shift is not None:
                # The adjustment rides along as one more coordinate; queries get a 1 there.
                keys = np.concatenate([keys, (-shift / factor)[:, None]], axis=1)
            index = LabelIndex(backend, device="cpu").fit(keys)
            self._indexes[key] = (index, factor)
        index, factor = self._indexes[key]
        k = min(k, self.n_labels)
        idx_parts, val_parts = [], []
        with torch.no_grad():
            for a in range(0, X.shape[0], 1024):
                xb = input_tensor(X[a : a + 1024]).to(self.device)
                q = head.index_queries(self.model(xb)).cpu().numpy()
                if shift is not None:
                    q = np.concatenate([q, np.ones((len(q), 1), q.dtype)], axis=1)
                i, v = index.search(q, k)
                idx_parts.append(i)
                val_parts.append(v * factor)
        if not idx_parts:
            return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        return np.concatenate(idx_parts), np.concatenate(val_parts)

    def predict_texts(
        self,
        texts: Sequence[str],
        k: int = 5,
        threshold: float | str | None = None,
        backend: str | None = None,
    ) -> list[Prediction]:
        """Top-k labels for raw texts (a model trained on a text items file)."""
        if self.kind != "text":
            raise ValueError(
                f"{self.source or 'this model'} was not trained on text (it takes {self.kind} inputs)"
            )
        return self.predict(list(texts), k, threshold, backend=backend)

    def predict_files(
        self,
        paths: Sequence[str | Path],
        k: int = 5,
        threshold: float | str | None = None,
        backend: str | None = None,
    ) -> list[Prediction]:
        """Top-k labels for files: .npy/.npz feature rows (one prediction per row) or images."""
        out: list[Prediction] = []
        paths = [Path(p) for p in paths]
        for path in (p for p in paths if p.suffix in ROW_SUFFIXES):
            X = read_rows(path)
            self._check_rows(X, str(path))
            names = [f"{path}[{r}]" for r in range(X.shape[0])]
            out += self.predict(X, k, threshold, names, backend)
        images = [p for p in paths if p.suffix not in ROW_SUFFIXES]
        if images:
            out += self.predict(images, k, threshold)
        return out

    # ------------------------------------------------------------------ evaluation
    def propensities(self) -> np.ndarray | None:
        """Label propensities of the training labels (for PSP@k), if they were saved."""
        if self.label_counts is None:
            return None
        counts, n = self.label_counts
        return propensities_from_counts(counts, n)

    def evaluate(
        self, data: MultiLabelDataset, propensities: np.ndarray | None = None
    ) -> dict[str, float]:
        """MAP@100, mAP, P@k, R@k, nDCG@k, PSP@k on ``data`` (the test evaluation), and the
        micro- and macro-F1 of the calibrated sets when the model has thresholds.

        PSP@k uses ``propensities`` if given, else those of the training labels saved with the
        model. The ranking metrics use the ``prior_adjustment``; the F1 of the sets does not. ``data`` must have the model's vocabulary; its inputs are rows or image files.
        """
        if data.vocabulary != self.vocabulary:
            raise ValueError(
                f"{data.name} has a different label vocabulary than the model"
                + (f" in {self.source}" if self.source else "")
            )
        if data.X is None:
            raise ValueError(f"{data.name}: has no inputs (a labels-only dataset)")
        p = self.propensities() if propensities is None else propensities
        if self.thresholds is None or len(data) * self.n_labels > FULL_SCORES_LIMIT:

            def ranked_scores(X: Any) -> tuple[np.ndarray, np.ndarray]:
                scores, ok = self.scores(X)
                return self._ranking(scores), ok

            return blocked_metrics(ranked_scores, data.X, data.Y, p)
        scores, ok = self.scores(data.X)
        m = score_metrics(data.Y, self._ranking(scores), ok, p)
        return {**m, **set_f1(data.Y[ok], self.thresholds.predict_sets(scores[ok]))}

    # ------------------------------------------------------------------ the label space
    def label_vectors(self) -> tuple[np.ndarray, str]:
        """One vector per label (L, k) and what it is.

        Heads built on label embeddings (embedding, embedding-paper, hybrid, pca, random) give
        their (L, d) embedding; heads over L logits (sigmoid, softmax, asl) the rows of their
        output layer (L, F): the direction in feature space that raises each label's score.
        """
        head = self.model.head
        E = getattr(head, "embeddings", None)
        if isinstance(E, torch.Tensor):
            return E.detach().float().cpu().numpy(), "label embedding"
        return head.linear.weight.detach().float().cpu().numpy(), "output-layer weights"

    @property
    def label_vectors_kind(self) -> str:
        """What :meth:`label_vectors` returns: ``"label embedding"`` or ``"output-layer weights"``."""
        E = getattr(self.model.head, "embeddings", None)
        return "label embedding" if isinstance(E, torch.Tensor) else "output-layer weights"

    def similar(self, label: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` labels nearest to ``label`` by cosine of :meth:`label_vectors`."""
        from labelsphere.decode import topk_similar

        if label not in self.vocabulary:
            raise KeyError(f"unknown label {label!r} (the model has {self.n_labels} labels)")
        if self._unit_vectors is None:  # computed once: a server answers many of these
            V, _ = self.label_vectors()
            self._unit_vectors = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
        V = self._unit_vectors
        i = self.vocabulary.index(label)
        k = min(k + 1, self.n_labels)
        idx, sims = topk_similar(V[i : i + 1], V, k)
        return [
            (self.vocabulary.names[j], float(v))
            for j, v in zip(idx[0], sims[0], strict=True)
            if j != i
        ][: k - 1]

    def label_counts_or_none(self) -> np.ndarray | None:
        return None if self.label_counts is None else self.label_counts[0]

    @property
    def head_size(self) -> tuple[int, int]:
        """(trained parameters, fixed values) of the output layer, the part that grows with L."""
        head = self.model.head
        return sum(p.numel() for p in head.parameters()), sum(b.numel() for b in head.buffers())


def evaluate_model_dir(
    model_dir: str | Path,
    dataset: str,
    split: str = "test",
    data_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    cache_dir: str | Path | None = None,
    prior_adjustment: float = 0.0,
    **options: Any,
) -> tuple[str, dict[str, float]]:
    """Evaluate a saved model on a split of a dataset (shared name or items file).

    Works for every kind of model: feature rows, frozen-image (images go through the saved
    backbone; features cached in ``cache_dir`` when given) and fine-tuned image models.
    ``split="all"`` of an items file evaluates the whole file (your own test set), its labels
    read with the model's vocabulary. Returns the split's name and the metrics of
    :meth:`Predictor.evaluate` (ranked with ``prior_adjustment``, see :class:`Predictor`).
    """
    predictor = Predictor.load(model_dir, prior_adjustment=prior_adjustment)
    predictor.feature_cache = None if cache_dir is None else Path(cache_dir)
    data = load_split(dataset, split, data_dir, val_fraction, predictor.vocabulary, **options)
    data.check_finite()
    return data.name, predictor.evaluate(data)

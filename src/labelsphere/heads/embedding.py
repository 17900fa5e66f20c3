"""The label-embedding head (Chollet, 2016): a d-dimensional output scored against label vectors."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelsphere.heads.base import MultiLabelHead, check_label_basis
from labelsphere.heads.linear import log_label_share, log_prior_odds
from labelsphere.heads.losses import (
    CosineProximityLoss,
    bce_with_logits,
    chunked_softmax_loss,
    normalized_softmax_loss,
)
from labelsphere.heads.targets import label_matmul, positives

__all__ = ["EmbeddingHead"]


class EmbeddingHead(MultiLabelHead):
    """The label-embedding head (Chollet, 2016): linear to d, scored against fixed label embeddings.

    Outputs are d-vectors; label l scores ``sim(output, E_l) + b_l``. The embeddings E are a
    fixed buffer (PMI, PCA or random; they are not trained).

    The defaults are the head registered as ``"embedding"`` (softmax over scaled cosines, the
    formulation docs/investigation.md chose); ``loss="cosine", similarity="dot"`` on the
    paper's embedding is the head registered as ``"embedding-paper"``.

    Args:
        in_features: F.
        embeddings: (L, d) label embeddings, e.g. ``LabelEmbedding.embeddings_``.
        loss: what the outputs are trained with.
            ``"cosine"``: the paper's cosine proximity ``1 - cos(output, t)`` to the unit target
            ``t = normalise(sum of the sample's label embeddings)``.
            ``"softmax"``: softmax cross-entropy over the L scaled scores
            ``scale * sim(output, E_l) + b_l`` against the normalised multi-hot target.
            ``"cosine+softmax"``: the sum of both.
            ``"bce"``: binary cross-entropy on the same scores, i.e. a sigmoid layer whose weight
            is constrained to the low-rank basis E (W = E A).
            ``"softmax+bce"``: the softmax loss plus that binary cross-entropy summed over the
            labels (mean over samples): the softmax ranks each sample's labels, the BCE each
            label's samples, which is what per-label AP measures.
            ``"mse"``: squared error to the un-normalised sum of label embeddings.
        similarity: ``"dot"`` or ``"cosine"``: ``sim`` above.
        bias: learn a per-label bias ``b`` (used in scores; trained by the score-based losses).
        prior_bias: start ``b`` at the label priors (needs ``bias=True``), as the
            ``sigmoid-prior`` baseline does: ``log p`` of each label's share of the label
            occurrences for the softmax losses, the log prior odds ``log(p / (1 - p))`` of its
            training frequency for ``"bce"`` and ``"softmax+bce"`` (the softmax is blind to a
            shift shared by all labels). Applied by :meth:`initialize`.
        scale: initial value of the learnable scale (inverse temperature) of the score-based
            losses; learned in log space so it stays positive.
        learn_embeddings: train E too, starting from the given embeddings (the PMI embedding as
            the initialisation of a low-rank label layer). Only with the score-based losses:
            the cosine and mse targets are built from E and would move with it.
        normalize: unit-normalise the output before the score-based losses and their scores,
            so only ``scale`` sets the temperature. ``False`` scores ``scale * sim(output, E_l)``
            on the raw output: a linear layer of rank d on the fixed basis (W = E A).
        label_chunk: above this many labels the softmax loss is computed ``label_chunk``
            labels at a time (:func:`chunked_softmax_loss`), so a step never holds the (B, L)
            logits: at L = 1M that is the difference between a few GB and tens. The chunked
            backward computes each chunk's logits again, one more GEMM: with ``free_logits``
            (an (L, F) product) that costs 1.4-1.5x the step at 100k-300k labels and saves
            little, since the free layer's weights and moments outweigh the logits
            (docs/scale.md); ``label_chunk >= L`` turns chunking off.
        embedding_dtype: storage of fixed embeddings, ``"float32"``, ``"float16"`` or
            ``"bfloat16"``; computation is float32 (chunks are cast). Halves the largest
            buffer at a million labels; see docs/scale.md for what it changes.
        glas: weight of the GLaS regulariser (Guo et al., NeurIPS 2019, "Breaking the Glass
            Ceiling for Embedding-Based Classifiers for Large Output Spaces") on learned
            embeddings: for the set S of labels in the batch, the mean over S x S of
            ``(k_i . k_j - G_ij)^2``, where k are the keys as scored (unit rows for
            ``similarity="cosine"``) and ``G_ij = (c_ij / c_i + c_ij / c_j) / 2`` the average
            of the two conditional frequencies from the training co-occurrence counts (so
            ``G_ii = 1``). It pulls the geometry of the label vectors towards the labels'
            co-occurrence as training moves them. Needs ``learn_embeddings=True`` (fixed
            embeddings make it a constant) and :meth:`prepare` (training calls it).
        pick_all: the softmax losses give each positive its own softmax term instead of
            dividing the sample's target by its label count (``normalized_softmax_loss``):
            consistent for precision@k rather than recall@k (Menon et al., 2019).
        label_lr_scale: learned embeddings train at the run's learning rate times this
            (:meth:`lr_scales`). Learning E and the output layer A together is a product
            ``E A``, which Adam moves faster than one matrix; this slows (or speeds) E alone.
        scale_lr_scale: the learnable scale trains at the run's learning rate times this.
            Adam moves a parameter by about its learning rate per step, so ``log(scale)``
            moves at most ``lr * steps``: at lr 3e-4 it takes 3 epochs of the full iconify set
            to go from 10 to 25, while the trained heads there settle at 35-40.
        max_scale: an upper bound on the learned scale (``None``: none). The scale learns as
            before up to it, then stays there: the warm-up of ``scale_lr_scale=1`` without
            the sharpening that follows it. Only for the score-based losses.
        free_logits: add a free linear layer ``V`` (L, F), started at zero, beside the scaled
            cosine: label l scores ``scale * cos(z, E_l) + b_l + V_l . h`` for the head's
            input h. The cosine part keeps the embedding head's start; ``V`` gives each label
            weights of its own on the unnormalised input, as the sigmoid head has. Measured
            on the full iconify set it lifts rare labels in each sample's ranking and lowers
            per-label AP (docs/paper_regime.md, session 24); end to end it falls behind the
            plain head at 5-10 epochs (session 25). Needs ``loss`` "softmax", "bce" or
            "softmax+bce"; the outputs carry h after z. The softmax is chunked over labels
            like the plain head's (``label_chunk``); ``V`` is a full (L, F) layer, with the
            memory of a sigmoid head's.
        free_lr_scale: the free layer ``V`` trains at the run's learning rate times this
            (:meth:`lr_scales`). On the full iconify set the full rate falls behind the
            default head from the second epoch on, as the full softmax head does; at 0.1x it
            is ahead at 1-5 epochs (docs/paper_regime.md, session 24). Needs
            ``free_logits=True``.
        free_normalize: the free layer sees the unit-normalised input ``h / |h|`` instead of
            ``h``, so like the cosine it ignores the input's norm: ``V_l . h`` orders a label's
            samples by the norm of ``h`` as well, which session 24 found lowers per-label AP.
            Needs ``free_logits=True``.
        label_scale: learn a per-label gain ``g_l`` (started at 1, learned in log space) on
            the scaled similarity: label l scores ``scale * g_l * sim(z, E_l) + b_l``. The
            cosine fixes every label vector's length, which a sigmoid layer's per-label
            weights keep; this gives each label its own temperature back without giving up
            the normalisation. Needs a score-based loss; the softmax is chunked as without it.
        sample_softmax: weight of a second softmax term, over the batch's samples for each label
            present in the batch (the other direction of CLIP's symmetric loss): label l's
            scores ``s_bl`` over the B samples against its positives, normalised as the
            per-sample softmax is. The per-sample softmax ranks each sample's labels; this
            term ranks each label's samples, which per-label AP measures. Measured on iconify
            (docs/paper_regime.md, session 31) it raises per-label AP at every size; MAP@100
            gains 2-3 % on frozen 40k and 4-8 % end to end at 1-5 epochs, and nothing on the
            full set. A shift per label (the bias) cancels in it. It scores only the labels in
            the batch, a (B, P) product for P labels present, so it needs no chunking at any
            L. Needs loss "softmax" or "softmax+bce".

    Shape:
        - forward: (B, F) -> (B, d), or (B, d + F) with ``free_logits`` (z, then h).
        - loss(outputs, targets (B, L) multi-hot) -> scalar.
        - scores(outputs) -> (B, L).
    """

    LOSSES = ("cosine", "softmax", "cosine+softmax", "bce", "softmax+bce", "mse")
    # The losses trained on the scaled scores, which scores() then returns.
    SCORED = ("softmax", "cosine+softmax", "bce", "softmax+bce")

    def __init__(
        self,
        in_features: int,
        embeddings: Tensor,
        loss: str = "softmax",
        similarity: str = "cosine",
        bias: bool = False,
        prior_bias: bool = False,
        scale: float = 10.0,
        learn_embeddings: bool = False,
        normalize: bool = True,
        label_chunk: int = 65536,
        embedding_dtype: str = "float32",
        glas: float = 0.0,
        pick_all: bool = False,
        label_lr_scale: float = 1.0,
        scale_lr_scale: float = 1.0,
        max_scale: float | None = None,
        free_logits: bool = False,
        free_lr_scale: float = 1.0,
        label_scale: bool = False,
        free_normalize: bool = False,
        sample_softmax: float = 0.0,
    ) -> None:
        super().__init__()
        check_label_basis(embeddings, similarity)
        if loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {self.LOSSES}, got {loss!r}")
        if not (isinstance(label_chunk, int) and label_chunk >= 1):
            raise ValueError(f"label_chunk must be a positive integer, got {label_chunk!r}")
        if embedding_dtype not in ("float32", "float16", "bfloat16"):
            raise ValueError(
                f"embedding_dtype must be float32, float16 or bfloat16, got {embedding_dtype!r}"
            )
        if embedding_dtype != "float32" and learn_embeddings:
            raise ValueError("embedding_dtype other than float32 is for fixed embeddings")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if max_scale is not None and not (isinstance(max_scale, int | float) and max_scale > 0):
            raise ValueError(f"max_scale must be a number > 0 or None, got {max_scale!r}")
        if max_scale is not None and loss in ("cosine", "mse"):
            raise ValueError(f"max_scale needs a score-based loss; loss={loss!r} has no scale")
        if bias and loss in ("cosine", "mse"):
            raise ValueError(f"bias=True needs a score-based loss; loss={loss!r} never trains it")
        if prior_bias and not bias:
            raise ValueError("prior_bias=True needs bias=True (it sets the bias's initial values)")
        if learn_embeddings and loss not in ("softmax", "bce", "softmax+bce"):
            raise ValueError(
                f"learn_embeddings=True needs loss='softmax', 'bce' or 'softmax+bce' (its targets do not move "
                f"with E), got loss={loss!r}"
            )
        if free_logits and loss not in ("softmax", "bce", "softmax+bce"):
            raise ValueError(
                f"free_logits=True needs loss='softmax', 'bce' or 'softmax+bce', got loss={loss!r}"
            )
        if not (isinstance(free_lr_scale, int | float) and free_lr_scale > 0):
            raise ValueError(f"free_lr_scale must be a number > 0, got {free_lr_scale!r}")
        if free_lr_scale != 1 and not free_logits:
            raise ValueError("free_lr_scale != 1 needs free_logits=True (there is no free layer)")
        if free_normalize and not free_logits:
            raise ValueError("free_normalize=True needs free_logits=True (there is no free layer)")
        if label_scale and loss not in self.SCORED:
            raise ValueError(f"label_scale=True needs a score-based loss, got loss={loss!r}")
        if not (
            isinstance(sample_softmax, int | float)
            and not isinstance(sample_softmax, bool)
            and 0 <= sample_softmax < float("inf")
        ):
            raise ValueError(f"sample_softmax must be a finite number >= 0, got {sample_softmax!r}")
        if sample_softmax > 0 and loss not in ("softmax", "softmax+bce"):
            raise ValueError(
                f"sample_softmax > 0 needs loss='softmax' or 'softmax+bce', got loss={loss!r}"
            )
        if not (isinstance(glas, int | float) and glas >= 0):
            raise ValueError(f"glas must be a number >= 0, got {glas!r}")
        if pick_all and loss not in ("softmax", "cosine+softmax", "softmax+bce"):
            raise ValueError(f"pick_all=True needs a softmax loss, got loss={loss!r}")
        if not (isinstance(label_lr_scale, int | float) and label_lr_scale > 0):
            raise ValueError(f"label_lr_scale must be a number > 0, got {label_lr_scale!r}")
        if not (isinstance(scale_lr_scale, int | float) and scale_lr_scale > 0):
            raise ValueError(f"scale_lr_scale must be a number > 0, got {scale_lr_scale!r}")
        if label_lr_scale != 1 and not learn_embeddings:
            raise ValueError(
                "label_lr_scale != 1 needs learn_embeddings=True (fixed E never moves)"
            )
        if glas > 0 and not learn_embeddings:
            raise ValueError("glas > 0 needs learn_embeddings=True (fixed embeddings never move)")
        self.in_features = in_features
        self.n_labels, self.dim = embeddings.shape
        self.glas = float(glas)
        self.sample_softmax = float(sample_softmax)
        self.pick_all = bool(pick_all)
        self.label_lr_scale = float(label_lr_scale)
        self.scale_lr_scale = float(scale_lr_scale)
        self.max_scale = None if max_scale is None else float(max_scale)
        self._cooccurrence: sp.csr_matrix | None = None
        self.loss_kind = loss
        self.similarity = similarity
        self.learn_embeddings = learn_embeddings
        self.normalize = bool(normalize)
        self.label_chunk = label_chunk
        self.embedding_dtype = embedding_dtype
        init = embeddings.detach().to(getattr(torch, embedding_dtype)).clone()
        if learn_embeddings:
            self.embeddings = nn.Parameter(init)
        else:
            self.register_buffer("embeddings", init)
        self.linear = nn.Linear(in_features, self.dim)
        self.bias = nn.Parameter(torch.zeros(self.n_labels)) if bias else None
        self.prior_bias = bool(prior_bias)
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())
        self.free_logits = bool(free_logits)
        self.free_lr_scale = float(free_lr_scale)
        self.free_normalize = bool(free_normalize)
        self.free: nn.Linear | None = None
        if free_logits:
            self.free = nn.Linear(in_features, self.n_labels, bias=False)
            nn.init.zeros_(self.free.weight)  # start as the embedding head alone
        self.log_label_scale = nn.Parameter(torch.zeros(self.n_labels)) if label_scale else None
        self.criterion = CosineProximityLoss()

    def forward(self, x: Tensor) -> Tensor:
        z = self.linear(x)
        return z if self.free is None else torch.cat([z, x], dim=1)

    def _split(self, outputs: Tensor) -> tuple[Tensor, Tensor | None]:
        """The d-dimensional output z (B, d) and, with ``free_logits``, the input h (B, F)
        as the free layer sees it (unit rows with ``free_normalize``)."""
        if self.free is None:
            return outputs, None
        h = outputs[:, self.dim :]
        if self.free_normalize:
            h = F.normalize(h.float(), dim=1, eps=1e-12)
        return outputs[:, : self.dim], h

    def lr_scales(self) -> dict[str, float]:
        scales = {
            "embeddings": self.label_lr_scale,
            "log_scale": self.scale_lr_scale,
            "free.weight": self.free_lr_scale,
        }
        return {name: s for name, s in scales.items() if s != 1}

    def _scale(self) -> Tensor:
        """The scale (inverse temperature) the scores use: ``exp(log_scale)``, capped."""
        scale = self.log_scale.exp()
        # Above the cap the clamp passes no gradient: the scale stays where it crossed.
        return scale if self.max_scale is None else scale.clamp(max=self.max_scale)

    def _label_scales(self) -> Tensor:
        """The temperature of each label (L,), or the shared one () without ``label_scale``."""
        scale = self._scale()
        return scale if self.log_label_scale is None else scale * self.log_label_scale.exp()

    def diagnostics(self) -> dict[str, float]:
        if self.loss_kind in ("cosine", "mse"):
            return {}
        return {"scale": float(self._scale().detach())}

    def targets(self, labels: Tensor) -> Tensor:
        """Unit-norm targets (B, d) from multi-hot labels (B, L); empty label sets give zeros."""
        s = label_matmul(labels, self.embeddings)
        return F.normalize(s, dim=1, eps=1e-12)  # zero rows stay zero, never NaN

    def _keys(self) -> Tensor:
        E = self.embeddings.float()  # the same tensor when stored in float32
        if self.similarity == "cosine":
            return F.normalize(E, dim=1, eps=1e-12)
        return E

    def _similarities(self, outputs: Tensor) -> Tensor:
        return outputs.float() @ self._keys().T

    def _logits(self, outputs: Tensor) -> Tensor:
        # Score-based losses see the unit-normalised output so the learnable scale alone sets
        # the temperature; eps keeps a zero output finite.
        out, h = self._split(outputs)
        z = F.normalize(out.float(), dim=1, eps=1e-12) if self.normalize else out.float()
        logits = self._label_scales() * (z @ self._keys().T)
        if h is not None:
            logits = logits + h.float() @ self.free.weight.float().T
        return logits if self.bias is None else logits + self.bias

    def initialize(self, label_counts: np.ndarray, n_samples: int) -> None:
        """With ``prior_bias``, start the bias at the label priors (see ``prior_bias``)."""
        if not self.prior_bias or self.bias is None:
            return
        counts = self.checked_counts(label_counts)
        if self.loss_kind in ("bce", "softmax+bce"):
            prior = log_prior_odds(counts, n_samples)
        else:
            prior = log_label_share(counts)
        with torch.no_grad():
            self.bias.copy_(torch.from_numpy(prior).float())

    def prepare(self, Y: sp.csr_matrix) -> None:
        """Keep the (L, L) co-occurrence counts of the training labels Y (n, L) for GLaS."""
        if self.glas == 0:
            return
        if Y.shape[1] != self.n_labels:
            raise ValueError(f"Y has {Y.shape[1]} labels, the head {self.n_labels}")
        B = sp.csr_matrix(Y, dtype=np.float64)
        B.data[:] = 1.0  # counts of samples, whatever the stored values
        self._cooccurrence = (B.T @ B).tocsr()  # diagonal: the label counts

    def glas_penalty(self, targets: Tensor) -> Tensor:
        """The GLaS term over the labels present in ``targets`` (B, L); see ``glas``."""
        if self._cooccurrence is None:
            raise RuntimeError("glas needs the training co-occurrences: call prepare(Y) first")
        _, cols, _ = positives(targets)
        present = torch.unique(cols)
        if present.numel() == 0:
            return self.log_scale.new_zeros(())
        idx = present.cpu().numpy()
        C = self._cooccurrence[idx][:, idx].toarray()
        c = np.maximum(C.diagonal(), 1.0)
        G = torch.from_numpy(0.5 * (C / c[None, :] + C / c[:, None])).float()
        K = self.embeddings[present.to(self.embeddings.device)].float()
        if self.similarity == "cosine":
            K = F.normalize(K, dim=1, eps=1e-12)
        return ((K @ K.T - G.to(K.device)) ** 2).mean()

    def sample_softmax_loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """The label-to-sample softmax over the labels present in ``targets`` (B, L); see
        ``sample_softmax``. Scores are the ones :meth:`scores` ranks by, less the bias."""
        rows, cols, values = positives(targets)
        present, where = torch.unique(cols, return_inverse=True)
        out, h = self._split(outputs)
        z = F.normalize(out.float(), dim=1, eps=1e-12) if self.normalize else out.float()
        keys = self.embeddings[present].float()
        if self.similarity == "cosine":
            keys = F.normalize(keys, dim=1, eps=1e-12)
        scale = self._label_scales()
        if scale.dim() == 1:
            scale = scale[present]
        logits = scale * (z @ keys.T)  # (B, P)
        if h is not None:
            logits = logits + h.float() @ self.free.weight[present].float().T
        y = torch.zeros_like(logits)
        y[rows, where] = values
        # Each label's column is one softmax over the samples: the per-sample loss transposed.
        return normalized_softmax_loss(logits.T, y.T)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        value = self._loss(outputs, targets)
        if self.sample_softmax > 0:
            value = value + self.sample_softmax * self.sample_softmax_loss(outputs, targets)
        return value if self.glas == 0 else value + self.glas * self.glas_penalty(targets)

    def _loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        kind = self.loss_kind
        if kind == "cosine":
            return self.criterion(outputs, self.targets(targets))
        if kind == "softmax":
            return self._softmax_loss(outputs, targets)
        if kind == "cosine+softmax":
            return self.criterion(outputs, self.targets(targets)) + self._softmax_loss(
                outputs, targets
            )
        if kind == "bce":
            return bce_with_logits(self._logits(outputs), targets)
        if kind == "softmax+bce":
            # BCE summed over the labels, so its weight does not shrink as L grows.
            bce = bce_with_logits(self._logits(outputs), targets) * self.n_labels
            return self._softmax_loss(outputs, targets) + bce
        # "mse": regress onto the raw sum (its scale grows with the number of labels).
        return F.mse_loss(outputs.float(), label_matmul(targets, self.embeddings))

    def _softmax_loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.n_labels <= self.label_chunk:
            return normalized_softmax_loss(self._logits(outputs), targets, self.pick_all)
        out, h = self._split(outputs)
        z = F.normalize(out.float(), dim=1, eps=1e-12) if self.normalize else out.float()
        # Cosine keys are normalised chunk by chunk: no (L, d) float32 copy (and, for learned
        # keys, none of its gradient) at scale.
        on_the_fly = self.similarity == "cosine"
        keys = self.embeddings if on_the_fly else self._keys()
        gain = None if self.log_label_scale is None else self.log_label_scale.exp()
        return chunked_softmax_loss(
            z,
            keys,
            self._scale(),
            self.bias,
            targets,
            self.label_chunk,
            on_the_fly,
            self.pick_all,
            gain,
            h,
            None if self.free is None else self.free.weight,
        )

    def index_keys(self) -> tuple[Tensor, float]:
        """Keys (L, d or d + 1) and a factor such that ``scores = factor * q @ keys.T``.

        With :meth:`index_queries` this lets a nearest-neighbour index (``labelsphere.decode.
        LabelIndex``: exact GEMM or FAISS) rank the labels without the (B, L) score matrix; a
        learned bias rides along as one more coordinate (queries get a 1 there).
        """
        scored = self.loss_kind in self.SCORED
        factor = float(self._scale().detach()) if scored else 1.0
        keys = self._keys().detach()
        if self.log_label_scale is not None:
            keys = keys * self.log_label_scale.detach().exp()[:, None]
        if self.free is not None:
            keys = torch.cat([keys, self.free.weight.detach().float() / factor], dim=1)
        if self.bias is not None:
            keys = torch.cat([keys, (self.bias.detach() / factor)[:, None]], dim=1)
        return keys, factor

    def index_queries(self, outputs: Tensor) -> Tensor:
        """Queries (B, d or d + 1) for :meth:`index_keys` from the head's outputs (B, d).

        With ``free_logits`` the head's input h follows z (B, d + F (+ 1)).
        """
        scored = self.loss_kind in self.SCORED
        out, h = self._split(outputs)
        q = out.float()
        if scored and self.normalize:
            q = F.normalize(q, dim=1, eps=1e-12)
        if h is not None:
            q = torch.cat([q, h.float()], dim=1)
        if self.bias is not None:
            q = torch.cat([q, torch.ones(q.shape[0], 1, device=q.device)], dim=1)
        return q

    def scores(self, outputs: Tensor) -> Tensor:
        if self.loss_kind in self.SCORED:
            return self._logits(outputs)
        s = self._similarities(outputs)
        return s if self.bias is None else s + self.bias

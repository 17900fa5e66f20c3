"""Losses shared by the heads: cosine proximity (the paper's) and softmax over a multi-hot target."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labelsphere.heads.targets import dense, is_sparse, positives, row_sums

__all__ = [
    "ChunkedSoftmaxCrossEntropy",
    "CosineProximityLoss",
    "bce_with_logits",
    "chunked_softmax_loss",
    "normalized_softmax_loss",
]


class CosineProximityLoss(nn.Module):
    """``1 - cos(input, target)``, averaged over the rows whose target is not empty.

    A sample without labels has a zero target vector (``LabelEmbedding.encode``); its cosine is
    undefined, so such rows are excluded from the mean instead of contributing a constant 1 or
    a NaN. A batch with no usable row returns a zero that still depends on ``input`` (so
    ``backward`` works and adds nothing).

    Args:
        eps: norms are clamped to at least ``eps`` before dividing.

    Shape:
        - input: (B, d) predictions, any scale.
        - target: (B, d) targets (unit-norm or zero rows).
        - output: scalar.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if input.shape != target.shape or input.dim() != 2:
            raise ValueError(
                f"input and target must both be (B, d); got {input.shape} and {target.shape}"
            )
        # Compute in float32 even under autocast: fp16 norms of d=256 vectors lose precision.
        input = input.float()
        target = target.float()
        valid = target.norm(dim=1) > self.eps
        if not bool(valid.any()):
            return input.sum() * 0.0
        cos = F.cosine_similarity(input[valid], target[valid], dim=1, eps=self.eps)
        return (1.0 - cos).mean()


def normalized_softmax_loss(logits: Tensor, targets: Tensor, pick_all: bool = False) -> Tensor:
    """``-sum_l (y_l / |y|) log softmax(logits)_l``, mean over samples with at least one label.

    With ``pick_all`` each positive is its own softmax term: ``-sum_l y_l log softmax_l``,
    summed over the batch and divided by its total label mass, i.e. the per-sample losses
    above averaged with weights ``|y|``. Menon et al. (NeurIPS 2019, "Multilabel reductions:
    what is my loss optimising?") call the two PAL-N and PAL: the normalised form is
    consistent for recall@k (its optimum ranks labels by ``E[y_l / |y| | x]``), the
    pick-all-labels form for precision@k (it ranks by ``P(y_l = 1 | x)``).

    Shape: logits (B, L), targets (B, L) multi-hot (dense or sparse CSR) -> scalar.
    """
    logits = logits.float()  # log_softmax over thousands of labels: keep float32 under autocast
    n = row_sums(targets)
    valid = n > 0
    if not bool(valid.any()):
        return logits.sum() * 0.0
    if is_sparse(targets):
        rows, cols, values = positives(targets)
        picked = torch.zeros_like(n).index_add_(0, rows, values * logits[rows, cols] / n[rows])
        per_row = torch.logsumexp(logits, dim=1) - picked
    else:
        y = targets.float()
        per_row = torch.zeros_like(n)
        per_row[valid] = -(y[valid] * F.log_softmax(logits[valid], dim=1)).sum(dim=1) / n[valid]
    return _reduce(per_row, n, valid, pick_all)


def _reduce(per_row: Tensor, n: Tensor, valid: Tensor, pick_all: bool) -> Tensor:
    """The mean of the normalised per-sample losses (B,); with ``pick_all``, weighted by |y|."""
    if pick_all:
        return (per_row[valid] * n[valid]).sum() / n[valid].sum()
    return per_row[valid].mean()


def bce_with_logits(logits: Tensor, targets: Tensor) -> Tensor:
    """Binary cross-entropy with logits, mean over B * L; sparse targets are never densified.

    ``BCE(z, y) = softplus(z) - y z``, so with sparse y only the positives' logits are gathered.
    Shape: logits (B, L), targets (B, L) -> scalar.
    """
    logits = logits.float()  # float32 under autocast
    if not is_sparse(targets):
        return F.binary_cross_entropy_with_logits(logits, dense(targets))
    rows, cols, values = positives(targets)
    return (F.softplus(logits).sum() - (values * logits[rows, cols]).sum()) / logits.numel()


class ChunkedSoftmaxCrossEntropy(torch.autograd.Function):
    """Per row, ``logsumexp_l(s_l) - sum_j c_j s_j`` over the positives j, in chunks of labels.

    ``s_l = scale * g_l * z . k_l + h . V_l + b_l``, where the per-label gain g, the free
    inputs h and the free weights V are optional (``None``: g = 1, no free term). The (B, L) scores are never held: the forward keeps a
    running max and sum per row; the backward recomputes each chunk's softmax and subtracts
    the positives' coefficients from it in place, so the keys get one (L, d) gradient, built
    chunk by chunk, and memory beyond it is O(B x chunk) whatever L is. (Gathering the
    positives' keys in autograd instead would add a second dense (L, d) gradient for them,
    2 GB at a million labels and d = 512.) With no positives it is the log-partition alone.

    Shape: z (B, d), keys (L, d), scale () tensor, bias (L,) or None, rows and cols (nnz,)
    int64 indices of the positives, coef (nnz,) their weights, gain (L,) or None, h (B, F)
    and V (L, F) or both None -> (B,).
    """

    @staticmethod
    def forward(
        ctx,
        z: Tensor,
        keys: Tensor,
        scale: Tensor,
        bias: Tensor | None,
        chunk: int,
        normalize_keys: bool,
        rows: Tensor,
        cols: Tensor,
        coef: Tensor,
        gain: Tensor | None = None,
        h: Tensor | None = None,
        V: Tensor | None = None,
    ):
        B, L = z.shape[0], keys.shape[0]
        m = torch.full((B,), -torch.inf, device=z.device)
        s = torch.zeros(B, device=z.device)
        for a in range(0, L, chunk):
            lg = _chunk_logits(z, keys, scale, bias, gain, h, V, a, chunk, normalize_keys)[0]
            new_m = torch.maximum(m, lg.max(dim=1).values)
            s = s * torch.exp(m - new_m) + torch.exp(lg - new_m[:, None]).sum(dim=1)
            m = new_m
        lse = m + torch.log(s)
        kp = keys[cols].float()  # (nnz, d): the positives' keys, no gradient kept here
        if normalize_keys:
            kp = F.normalize(kp, dim=1, eps=1e-12)
        pos = (scale if gain is None else scale * gain[cols]) * (z[rows] * kp).sum(dim=1)
        if V is not None:
            pos = pos + (h[rows] * V[cols].float()).sum(dim=1)
        if bias is not None:
            pos = pos + bias[cols]
        picked = torch.zeros_like(lse).index_add_(0, rows, coef * pos)
        ctx.chunk, ctx.normalize_keys = chunk, normalize_keys
        ctx.save_for_backward(z, keys, scale, bias, lse, rows, cols, coef, gain, h, V)
        return lse - picked

    @staticmethod
    def backward(ctx, grad: Tensor):
        z, keys, scale, bias, lse, rows, cols, coef, gain, h, V = ctx.saved_tensors
        chunk, normalize_keys = ctx.chunk, ctx.normalize_keys
        need_z, need_keys, need_scale, need_bias = ctx.needs_input_grad[:4]
        need_gain, need_h, need_V = ctx.needs_input_grad[9:12]
        g_z = torch.zeros_like(z) if need_z else None
        g_keys = torch.zeros_like(keys) if need_keys else None
        g_scale = torch.zeros((), device=z.device) if need_scale else None
        g_bias = torch.zeros_like(bias) if need_bias and bias is not None else None
        g_gain = torch.zeros_like(gain) if need_gain and gain is not None else None
        g_h = torch.zeros_like(h) if need_h and h is not None else None
        g_V = torch.zeros_like(V) if need_V and V is not None else None
        g_pos = grad[rows] * coef  # d loss / d (a positive's score), negated
        for a in range(0, keys.shape[0], chunk):
            lg, dots, kc, sc = _chunk_logits(
                z, keys, scale, bias, gain, h, V, a, chunk, normalize_keys
            )
            p = torch.exp(lg - lse[:, None]) * grad[:, None]  # d loss / d logits of the chunk
            inside = (cols >= a) & (cols < a + kc.shape[0])
            p.index_put_((rows[inside], cols[inside] - a), -g_pos[inside], accumulate=True)
            ps = p * sc  # d loss / d dots; sc is the shared scale () or the chunk's (c,)
            if g_z is not None:
                g_z += ps @ kc
            if g_keys is not None:
                g = ps.T @ z  # d loss / d (the chunk's keys as scored)
                if normalize_keys:
                    g = _normalize_backward(keys[a : a + chunk].float(), kc, g)
                g_keys[a : a + chunk] = g
            if g_scale is not None:
                pd = p * dots
                g_scale += (pd if gain is None else pd * gain[a : a + chunk]).sum()
            if g_gain is not None:
                g_gain[a : a + chunk] = scale * (p * dots).sum(dim=0)
            if g_bias is not None:
                g_bias[a : a + chunk] = p.sum(dim=0)
            if g_h is not None:
                g_h += p @ V[a : a + chunk].float()
            if g_V is not None:
                g_V[a : a + chunk] = (p.T @ h).to(V.dtype)
        return g_z, g_keys, g_scale, g_bias, None, None, None, None, None, g_gain, g_h, g_V


def _chunk_logits(
    z: Tensor,
    keys: Tensor,
    scale: Tensor,
    bias: Tensor | None,
    gain: Tensor | None,
    h: Tensor | None,
    V: Tensor | None,
    start: int,
    size: int,
    normalize_keys: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The logits (B, c) of labels ``start:start+size``, with the dots z . k (B, c), the keys
    as scored (c, d) and the scale each label's dot is multiplied by (() or (c,))."""
    kc = _chunk(keys, start, size, normalize_keys)
    dots = z @ kc.T
    sc = scale if gain is None else scale * gain[start : start + size]
    lg = sc * dots
    if V is not None:
        lg = lg + h @ V[start : start + size].float().T
    if bias is not None:
        lg = lg + bias[start : start + size]
    return lg, dots, kc, sc


def _normalize_backward(raw: Tensor, unit: Tensor, grad: Tensor, eps: float = 1e-12) -> Tensor:
    """The gradient through ``unit = F.normalize(raw, dim=1, eps=eps)`` for ``grad`` on ``unit``.

    ``(grad - unit (unit . grad)) / |raw|`` per row, and ``grad / eps`` where ``|raw| < eps``
    (there F.normalize divides by the constant eps). Shape: (n, d) each -> (n, d).
    """
    norm = raw.norm(dim=1, keepdim=True)
    projected = (grad - unit * (unit * grad).sum(dim=1, keepdim=True)) / norm.clamp_min(eps)
    return torch.where(norm > eps, projected, grad / eps)


def _chunk(keys: Tensor, start: int, size: int, normalize: bool) -> Tensor:
    """Rows ``start:start+size`` of the keys in float32, unit-normalised if asked (as F.normalize)."""
    kc = keys[start : start + size].float()
    return F.normalize(kc, dim=1, eps=1e-12) if normalize else kc


def chunked_softmax_loss(
    z: Tensor,
    keys: Tensor,
    scale: Tensor,
    bias: Tensor | None,
    targets: Tensor,
    chunk: int,
    normalize_keys: bool = False,
    pick_all: bool = False,
    gain: Tensor | None = None,
    free_inputs: Tensor | None = None,
    free_weight: Tensor | None = None,
) -> Tensor:
    """:func:`normalized_softmax_loss` of the logits ``scale * z @ keys.T + bias``, in chunks.

    Equal to it up to float rounding, without the (B, L) logits and with one (L, d) gradient
    for the keys (:class:`ChunkedSoftmaxCrossEntropy`). With
    ``normalize_keys`` each chunk is unit-normalised on the fly, so cosine scores need no
    normalised copy of a large (L, d) embedding (a fixed one may be stored in fp16); learned
    keys get their gradient through the normalisation chunk by chunk as well.

    ``gain`` (L,) multiplies each label's scale (``scale * gain_l * z . k_l``), and
    ``free_inputs`` h (B, F) with ``free_weight`` V (L, F) add ``h . V_l`` to each logit: the
    embedding head's ``label_scale`` and ``free_logits``, chunked like the rest.

    ``pick_all`` as there.

    Shape: z (B, d), keys (L, d), targets (B, L) dense or sparse CSR -> scalar.
    """
    if (free_inputs is None) != (free_weight is None):
        raise ValueError("free_inputs and free_weight come together")
    z = z.float()
    n = row_sums(targets)
    valid = n > 0
    if not bool(valid.any()):
        zero = z.sum() * 0.0
        return zero if free_inputs is None else zero + free_inputs.sum() * 0.0
    rows, cols, values = positives(targets)
    coef = (values / n[rows]).float()
    h = None if free_inputs is None else free_inputs.float()
    per_row = ChunkedSoftmaxCrossEntropy.apply(
        z, keys, scale, bias, chunk, normalize_keys, rows, cols, coef, gain, h, free_weight
    )
    return _reduce(per_row, n, valid, pick_all)

"""Sparse (CSR) targets and the chunked softmax give the losses and gradients of the dense ones."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from labelsphere.heads import HEAD_REGISTRY, EmbeddingHead, build_head, label_basis
from labelsphere.heads.targets import csr_batch, dense, label_matmul, mix, row_sums

B, L, F = 16, 40, 8


@pytest.fixture(scope="module")
def labels() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    Y = (rng.random((B, L)) < 0.1).astype(np.int8)
    Y[:, 0] = 1
    Y[3] = 0  # a sample without labels
    return sp.csr_matrix(Y)


def _loss_and_grads(head, x, targets):
    head.zero_grad()
    loss = head.loss(head(x), targets)
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in head.parameters() if p.grad is not None]


@pytest.mark.parametrize("name", sorted(HEAD_REGISTRY))
def test_every_head_takes_sparse_targets(name, labels):
    torch.manual_seed(0)
    head = build_head(name, F, L, label_basis(name, labels, 6, 0))
    head.prepare(labels)
    x = torch.randn(B, F)
    want, want_g = _loss_and_grads(head, x, torch.from_numpy(labels.toarray()).float())
    got, got_g = _loss_and_grads(head, x, csr_batch(labels))
    assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    for g, w in zip(got_g, want_g, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bias": True},
        {"learn_embeddings": True},
        {"normalize": False},
        {"learn_embeddings": True, "bias": True, "prior_bias": True},  # the default head
        {"learn_embeddings": True, "bias": True, "prior_bias": True, "pick_all": True},
        {"bias": True, "label_scale": True},
        {"learn_embeddings": True, "bias": True, "free_logits": True},  # embedding-free
        {"learn_embeddings": True, "bias": True, "free_logits": True, "free_normalize": True},
        {"learn_embeddings": True, "free_logits": True, "label_scale": True, "pick_all": True},
    ],
)
@pytest.mark.parametrize("layout", ["dense", "csr", "mixed csr"])
def test_chunked_softmax_equals_the_full_softmax(options, layout, labels):
    torch.manual_seed(0)
    E = torch.randn(L, 6) * torch.rand(L, 1) * 3  # rows of many norms
    E[5] = 0.0  # a zero key: F.normalize divides by eps there, and so must its gradient
    full = EmbeddingHead(F, E, **options)
    chunked = EmbeddingHead(F, E, label_chunk=7, **options)  # 40 labels in chunks of 7
    with torch.no_grad():  # biases, gains and free weights away from their zero start
        for name in ("bias", "log_label_scale", "free.weight"):
            if name in dict(full.named_parameters()):
                full.get_parameter(name).uniform_(-1, 1)
    chunked.load_state_dict(full.state_dict())
    x = torch.randn(B, F)
    Y = csr_batch(labels)
    if layout == "mixed csr":  # fractional positives, as mixup makes them
        Y = mix(Y, 0.3, torch.randperm(B, generator=torch.Generator().manual_seed(1)))
    want, want_g = _loss_and_grads(full, x, dense(Y))
    got, got_g = _loss_and_grads(chunked, x, dense(Y) if layout == "dense" else Y)
    assert got == pytest.approx(want, rel=1e-5)
    for g, w in zip(got_g, want_g, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)


def test_target_operations_agree_across_layouts(labels):
    Yd = torch.from_numpy(labels.toarray()).float()
    Ys = csr_batch(labels)
    torch.testing.assert_close(dense(Ys), Yd)
    torch.testing.assert_close(row_sums(Ys), Yd.sum(1))
    E = torch.randn(L, 5)
    torch.testing.assert_close(label_matmul(Ys, E), Yd @ E)
    perm = torch.randperm(B)
    torch.testing.assert_close(dense(mix(Ys, 0.3, perm)), mix(Yd, 0.3, perm))


def test_on_the_fly_normalised_keys_and_fp16_storage(labels):
    torch.manual_seed(0)
    E = torch.randn(L, 6)
    full = EmbeddingHead(F, E)
    chunked = EmbeddingHead(F, E, label_chunk=7)
    chunked.load_state_dict(full.state_dict())
    x = torch.randn(B, F)
    Y = csr_batch(labels)
    want, want_g = _loss_and_grads(full, x, torch.from_numpy(labels.toarray()).float())
    got, got_g = _loss_and_grads(chunked, x, Y)  # fixed cosine keys normalised per chunk
    assert got == pytest.approx(want, rel=1e-5)
    for g, w in zip(got_g, want_g, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)
    half = EmbeddingHead(F, E, label_chunk=7, embedding_dtype="float16")
    half.load_state_dict(full.state_dict())
    assert half.embeddings.dtype == torch.float16
    h, _ = _loss_and_grads(half, x, Y)
    assert h == pytest.approx(want, rel=1e-3)  # fp16 storage: within its rounding
    with pytest.raises(ValueError, match="embedding_dtype"):
        EmbeddingHead(F, E, embedding_dtype="int8")

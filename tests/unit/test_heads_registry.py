"""Every registered head, on seeded random data: no real data needed (the fast tier)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from labelsphere.heads import (
    HEAD_REGISTRY,
    EmbeddingHead,
    build_head,
    check_options,
    head_entry,
    label_basis,
    parse_head_spec,
)
from labelsphere.train import TrainConfig

N, L, F = 64, 12, 10


@pytest.fixture(scope="module")
def labels() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    Y = (rng.random((N, L)) < 0.25).astype(np.int8)
    Y[:, 0] = 1  # every label co-occurs with label 0, so the PMI matrix is connected
    return sp.csr_matrix(Y)


@pytest.mark.parametrize("name", sorted(HEAD_REGISTRY))
def test_every_registered_head_builds_scores_and_learns(name, labels):
    torch.manual_seed(0)
    basis = label_basis(name, labels, n_components=4, seed=0)
    entry = head_entry(name)
    assert (basis is None) == (entry.basis is None)
    if basis is not None:
        assert basis.shape == (L, 4) and np.isfinite(basis).all()
    head = build_head(name, F, L, basis)
    head.prepare(labels)  # what training does first: statistics the loss reads (GLaS)
    x = torch.randn(N, F)
    y = torch.from_numpy(labels.toarray()).float()
    out = head(x)
    assert head.scores(out).shape == (N, L)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = float(head.loss(head(x), y).detach())
    for _ in range(30):
        loss = head.loss(head(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.isfinite(first) and float(head.loss(head(x), y).detach()) < first


def test_embedding_head_defaults_are_the_registered_embedding_head(labels):
    basis = torch.from_numpy(label_basis("embedding", labels, 4, 0))
    plain = EmbeddingHead(F, basis)
    named = build_head("embedding", F, L, basis.numpy())
    assert (plain.loss_kind, plain.similarity) == (named.loss_kind, named.similarity)
    assert (plain.loss_kind, plain.similarity) == ("softmax", "cosine")
    paper = build_head("embedding-paper", F, L, basis.numpy())
    assert (paper.loss_kind, paper.similarity) == ("cosine", "dot")


def test_spec_keys_go_to_exactly_one_place():
    s = parse_head_spec("embedding[loss=softmax,n_iter=4,lr=0.01,hidden=[32],pmi=positive]")
    assert s.head_options == {"loss": "softmax"}
    assert s.embedding_options == {"n_iter": 4, "pmi": "positive"}  # n_iter is the embedding's
    assert s.overrides == {"lr": 0.01, "hidden": (32,)}
    assert parse_head_spec("asl[gamma_neg=2]").head_options == {"gamma_neg": 2}
    assert parse_head_spec("hybrid[loss=softmax]").head_options == {"loss": "softmax"}
    # One width needs no brackets.
    assert parse_head_spec("sigmoid-prior[hidden=1024]").overrides == {"hidden": (1024,)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("embedding[lossy=1]", "no option 'lossy'"),
        ("sigmoid[pmi=positive]", "no option 'pmi'"),
        ("pca[n_iter=3]", "no option 'n_iter'"),
        ("embedding-paper[loss=softmax]", "fixes loss='cosine'"),
        ("embedding-paper[diagonal=zero]", "fixes diagonal='self_information'"),
        ("embedding[loss=foo]", "loss must be one of"),
        ("embedding[pmi=clip]", "'pmi' parameter"),
        ("embedding[lr=-1]", "lr must be > 0"),
        ("svm", "unknown head 'svm'"),
        ("embedding[softmax]", "key=value"),
        ("softmax[pick_all=maybe]", "pick_all must be of type bool, got 'maybe'"),
        ("sigmoid-prior[prior_bias=1]", "prior_bias must be of type bool, got 1"),
        ("embedding[scale=true]", "scale must be of type float, got True"),
        ("embedding[label_chunk=2.5]", "label_chunk must be of type int, got 2.5"),
        ("sigmoid[hidden=1.5]", r"hidden must be layer widths, integers >= 1, got \[1.5\]"),
        ("sigmoid[hidden=[64,0]]", r"hidden must be .*got \[64, 0\]"),
    ],
)
def test_a_bad_spec_fails_when_parsed_naming_the_key(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_head_spec(spec)


def test_train_config_checks_options_at_construction():
    with pytest.raises(ValueError, match="no head option 'n_iter'"):
        TrainConfig(head="embedding", head_options={"n_iter": 4})
    with pytest.raises(ValueError, match="label-embedding option 'pmi'"):
        TrainConfig(head="sigmoid", embedding_options={"pmi": "zero"})
    check_options("embedding", {"bias": True}, {"n_iter": 4})  # valid: no error


def test_heads_name_their_own_learning_rate_multipliers(labels):
    basis = label_basis("embedding-learned-prior", labels, 4, 0)
    assert build_head("embedding-learned-prior", F, L, basis).lr_scales() == {}
    assert build_head("embedding-slow-scale", F, L, basis).lr_scales() == {"log_scale": 0.3}
    both = EmbeddingHead(
        F, torch.from_numpy(basis), learn_embeddings=True, label_lr_scale=2, scale_lr_scale=0.5
    )
    assert both.lr_scales() == {"embeddings": 2.0, "log_scale": 0.5}
    assert set(both.lr_scales()) <= {name for name, _ in both.named_parameters()}
    assert build_head("sigmoid-prior", F, L, None).lr_scales() == {}

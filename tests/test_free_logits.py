"""free_logits: a zero-initialised per-label linear layer beside the scaled cosine, on real
bibtex data: it starts as the embedding head alone, trains, ranks the same through an index as
through the dense scores, and takes folded-in labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsphere.data import train_val_test
from labelsphere.foldin import fold_in
from labelsphere.heads import build_head, label_basis
from labelsphere.heads.losses import normalized_softmax_loss
from labelsphere.heads.targets import csr_batch
from labelsphere.predict import Predictor
from labelsphere.train import TrainConfig, train


@pytest.fixture(scope="module")
def splits(data_dir):
    return train_val_test("bibtex", data_dir)


_OPTIONS = {"learn_embeddings": True, "bias": True, "prior_bias": True, "max_scale": 15.0}


def _heads(tr, free_logits: bool):
    X, Y = tr.X, tr.Y
    basis = label_basis("embedding-scale-cap", Y, 32, seed=0)
    torch.manual_seed(0)
    head = build_head(
        "embedding", X.shape[1], Y.shape[1], basis, {**_OPTIONS, "free_logits": free_logits}
    )
    head.initialize(np.bincount(Y.indices, minlength=Y.shape[1]), Y.shape[0])
    return head


def test_free_logits_start_as_the_embedding_head_and_train(splits):
    tr = splits[0]
    plain, free = _heads(tr, False), _heads(tr, True)
    x = torch.from_numpy(tr.X[:64].toarray()).float()
    y = torch.from_numpy(tr.Y[:64].toarray()).float()
    out = free(x)
    assert out.shape == (64, free.dim + x.shape[1])  # z, then the head's input
    torch.testing.assert_close(out[:, free.dim :], x)
    # Same seed, same z layer: zero free weights score exactly as the plain head.
    torch.testing.assert_close(free.scores(out), plain.scores(plain(x)))
    logits = free.scores(out)
    torch.testing.assert_close(free.loss(out, y), normalized_softmax_loss(logits, y))
    free.loss(out, y).backward()
    assert free.free.weight.grad is not None and free.free.weight.grad.abs().sum() > 0
    # Sparse targets give the same loss (through the chunked softmax).
    torch.testing.assert_close(free.loss(out, csr_batch(tr.Y[:64])), free.loss(out, y))


@pytest.mark.parametrize("options", [{}, {"free_normalize": True, "label_scale": True}])
def test_free_logits_chunked_like_the_plain_head(splits, options):
    """In chunks of 50 of bibtex's 159 labels, with CSR targets, the loss and every gradient
    are those of the full (B, L) softmax: the free heads take the million-label path."""
    tr = splits[0]
    basis = label_basis("embedding-scale-cap", tr.Y, 32, seed=0)
    full, chunked = (
        build_head(
            "embedding",
            tr.X.shape[1],
            tr.Y.shape[1],
            basis,
            {**_OPTIONS, "free_logits": True, "label_chunk": chunk, **options},
        )
        for chunk in (65536, 50)
    )
    torch.manual_seed(1)
    with torch.no_grad():  # a trained-looking free layer, gains and biases
        full.free.weight.normal_(0, 0.05)
        full.bias.normal_(0, 1)
        if full.log_label_scale is not None:
            full.log_label_scale.uniform_(-0.5, 0.5)
    chunked.load_state_dict(full.state_dict())
    x = torch.from_numpy(tr.X[:128].toarray()).float()
    losses, grads = [], []
    for head, y in (
        (full, torch.from_numpy(tr.Y[:128].toarray()).float()),
        (chunked, csr_batch(tr.Y[:128])),
    ):
        loss = head.loss(head(x), y)
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in head.named_parameters() if p.grad is not None})
    torch.testing.assert_close(losses[1], losses[0])
    assert grads[1].keys() == grads[0].keys() >= {"free.weight", "linear.weight"}
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-4, atol=1e-6, msg=name)


def test_free_logits_need_a_scored_loss():
    E = torch.randn(20, 4)
    for loss in ("cosine", "mse", "cosine+softmax"):
        with pytest.raises(ValueError, match="free_logits=True needs loss="):
            build_head("embedding", 8, 20, E, {"loss": loss, "free_logits": True})


def test_a_trained_free_logits_model_ranks_the_same_through_an_index_and_folds_in(
    splits, tmp_path, one_torch_thread, ranks_like_its_scores, hold_out_labels
):
    tr, va, te = splits
    L = tr.Y.shape[1]
    keep, held, kept = hold_out_labels(tr)
    cfg = TrainConfig(
        head="embedding-scale-cap", head_options={"free_logits": True}, hidden=(32,), epochs=2
    )
    result = train(cfg, kept(tr), kept(va), tmp_path / "run")
    p = Predictor.load(result.run_dir / "model")
    assert float(p.model.head.free.weight.detach().abs().max()) > 0  # the free layer trained
    X = te.X[:50]
    ranks_like_its_scores(p, X)
    scores, _ = p.scores(X)
    names = [f"new{i}" for i in range(len(held))]
    out = fold_in(result.run_dir / "model", tr.Y[:, keep], tr.Y[:, held], names, tmp_path / "f")
    folded = Predictor.load(out)
    V = folded.model.head.free.weight.detach()
    assert V.shape == (L, 32)  # the head's input is the hidden layer
    assert float(V[len(keep) :].abs().max()) == 0
    s_new, _ = folded.scores(X)
    np.testing.assert_allclose(s_new[:, : len(keep)], scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("free_lr_scale", [1.0, 0.01])
def test_free_lr_scale_sets_the_free_layers_rate(free_lr_scale, splits, tmp_path, one_torch_thread):
    """One AdamW step moves each weight with a gradient by the group's rate: lr * scale."""
    tr, va, _ = splits
    options = {"free_logits": True, "free_lr_scale": free_lr_scale}
    cfg = TrainConfig(
        head="embedding-scale-cap", head_options=options, hidden=(32,), lr=1e-2, max_steps=1
    )
    result = train(cfg, tr, va, tmp_path / "run", progress=False)
    V = Predictor.load(result.run_dir / "model").model.head.free.weight.detach()
    assert float(V.abs().max()) == pytest.approx(1e-2 * free_lr_scale, rel=1e-3)


def test_free_lr_scale_needs_the_free_layer():
    E = torch.randn(20, 4)
    with pytest.raises(ValueError, match="free_lr_scale != 1 needs free_logits=True"):
        build_head("embedding", 8, 20, E, {"free_lr_scale": 0.1})
    with pytest.raises(ValueError, match="free_lr_scale must be a number > 0"):
        build_head("embedding", 8, 20, E, {"free_logits": True, "free_lr_scale": 0})


def test_embedding_free_is_the_default_head_with_the_slow_free_layer(splits):
    """The registered name is the spec the session-24 runs used."""
    from labelsphere.heads.registry import head_entry

    free, cap = head_entry("embedding-free"), head_entry("embedding-scale-cap")
    assert dict(free.defaults) == {**cap.defaults, "free_logits": True, "free_lr_scale": 0.1}
    assert (free.basis, free.n_components) == (cap.basis, cap.n_components)
    tr = splits[0]
    basis = label_basis("embedding-free", tr.Y, 8, seed=0)
    head = build_head("embedding-free", tr.X.shape[1], tr.Y.shape[1], basis)
    assert (head.free_lr_scale, head.max_scale) == (0.1, 15.0)
    assert head.lr_scales() == {"free.weight": 0.1}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("embedding-scale-cap[free_lr_scale=0.1]", "free_lr_scale != 1 needs free_logits=True"),
        ("embedding-paper[free_logits=true]", "free_logits=True needs loss="),
        ("embedding-free[free_lr_scale=-1]", "free_lr_scale must be a number > 0, got -1"),
        ("embedding-scale-cap[sample_softmax=-1]", "sample_softmax must be a finite number >= 0"),
        ("embedding-paper[sample_softmax=1]", "sample_softmax > 0 needs loss="),
    ],
)
def test_cli_refuses_bad_head_options_in_one_line(spec, message, data_dir, tmp_path):
    from typer.testing import CliRunner

    from labelsphere.cli import app

    out = tmp_path / "run"
    args = ["train", "bibtex", "--head", spec, "--data-dir", str(data_dir), "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output and not out.exists()

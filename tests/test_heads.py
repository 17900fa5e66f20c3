"""Heads and losses: numerics by hand, targets equal LabelEmbedding.encode, and both heads
learn on real bibtex features through the same two calls."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from labelsphere import LabelEmbedding
from labelsphere.data import load_dataset
from labelsphere.heads import CosineProximityLoss, EmbeddingHead, SigmoidHead
from labelsphere.metrics import precision_at_k


@pytest.fixture(scope="module")
def bibtex(data_dir):
    return (
        load_dataset("bibtex", split="train", data_dir=data_dir),
        load_dataset("bibtex", split="test", data_dir=data_dir),
    )


def test_cosine_proximity_by_hand_and_empty_rows():
    loss = CosineProximityLoss()
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], requires_grad=True)
    t = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # last target empty
    value = loss(x, t)
    assert value.item() == pytest.approx(((1 - 1) + (1 - 0)) / 2)
    value.backward()
    assert torch.all(x.grad[2] == 0)  # the empty row contributes nothing
    x2 = torch.randn(4, 3, requires_grad=True)
    zero = loss(x2, torch.zeros(4, 3))
    zero.backward()
    assert zero.item() == 0.0 and torch.all(x2.grad == 0)
    with pytest.raises(ValueError, match="both be"):
        loss(torch.zeros(2, 3), torch.zeros(2, 4))


def test_embedding_head_targets_equal_encode(bibtex):
    train, test = bibtex
    emb = LabelEmbedding(n_components=64).fit(train.Y)
    head = EmbeddingHead(
        1836, torch.from_numpy(emb.embeddings_), loss="cosine", similarity=emb.similarity
    )
    Y = torch.from_numpy(test.Y[:500].toarray())
    np.testing.assert_allclose(head.targets(Y).numpy(), emb.encode(test.Y[:500]), atol=1e-5)
    out = torch.from_numpy(emb.encode(test.Y[:5]))
    np.testing.assert_allclose(head.scores(out).numpy(), emb.scores(out.numpy()), atol=1e-5)


def test_sigmoid_head_loss_is_bce():
    head = SigmoidHead(5, 3)
    logits = torch.tensor([[0.5, -1.0, 2.0]])
    y = torch.tensor([[1.0, 0.0, 1.0]])
    p = torch.sigmoid(logits)
    manual = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert head.loss(logits, y).item() == pytest.approx(manual.item(), rel=1e-6)
    assert torch.equal(head.scores(logits), logits)


@pytest.mark.parametrize("kind", ["embedding", "sigmoid"])
def test_heads_learn_on_real_features_through_the_same_calls(bibtex, kind):
    train, test = bibtex
    torch.manual_seed(0)
    emb = LabelEmbedding(n_components=64, random_state=0).fit(train.Y)
    head = (
        EmbeddingHead(1836, torch.from_numpy(emb.embeddings_), loss="cosine", similarity="dot")
        if kind == "embedding"
        else SigmoidHead(1836, 159)
    )
    X = torch.from_numpy(train.X.toarray())
    Y = torch.from_numpy(train.Y.toarray()).float()
    Xt = torch.from_numpy(test.X.toarray())
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)

    def p1() -> float:
        with torch.no_grad():
            s = head.scores(head(Xt)).numpy()
        return precision_at_k(test.Y, np.argsort(-s, axis=1)[:, :1], 1)

    before = p1()
    for _epoch in range(3):
        for i in range(0, len(X), 256):
            loss = head.loss(head(X[i : i + 256]), Y[i : i + 256])
            opt.zero_grad()
            loss.backward()
            opt.step()
    after = p1()
    # A linear model on bibtex reaches ~0.5 P@1 within a few epochs; chance is ~0.06.
    assert after > 0.35 and after > before + 0.2
    assert torch.isfinite(F.normalize(head(Xt[:4]), dim=1)).all()


def test_embedding_head_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"\(L, d\)"):
        EmbeddingHead(3, torch.zeros(5))
    with pytest.raises(ValueError, match="similarity"):
        EmbeddingHead(3, torch.zeros(5, 2), similarity="l2")


def test_normalized_softmax_loss_by_hand():
    from labelsphere.heads import normalized_softmax_loss

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    y = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # second row empty: skipped
    logp = torch.log_softmax(logits[0], dim=0)
    manual = -(logp[0] + logp[1]) / 2
    assert normalized_softmax_loss(logits, y).item() == pytest.approx(manual.item(), rel=1e-6)


def test_pick_all_softmax_loss_by_hand():
    from labelsphere.heads import normalized_softmax_loss
    from labelsphere.heads.targets import csr_batch

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.5], [0.0, 0.0, 0.0]])
    y = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    lp = torch.log_softmax(logits, dim=1)
    manual = -(lp[0, 0] + lp[0, 1] + lp[1, 1]) / 3  # every positive its own term
    for t in (y, csr_batch(sp.csr_matrix(y.numpy()))):
        got = normalized_softmax_loss(logits, t, pick_all=True)
        assert got.item() == pytest.approx(manual.item(), rel=1e-6)
    normalised = -((lp[0, 0] + lp[0, 1]) / 2 + lp[1, 1]) / 2
    assert normalized_softmax_loss(logits, y).item() == pytest.approx(normalised.item(), rel=1e-6)


@pytest.mark.parametrize("pick_all, want", [(False, 0), (True, 1)])
def test_pick_all_ranks_by_label_probability(pick_all, want):
    # One input, two kinds of sample: label 0 alone (40 %), labels 1, 2, 3 together (60 %).
    # P(y_1 = 1) = 0.6 > P(y_0 = 1) = 0.4, but label 1 gets a third of a sample's weight in
    # the normalised loss (0.2 < 0.4): its optimum ranks label 0 first (recall@1), the
    # pick-all-labels optimum label 1 (precision@1), as Menon et al. (2019) show.
    from labelsphere.heads import normalized_softmax_loss

    y = torch.tensor([[1.0, 0, 0, 0]] * 2 + [[0.0, 1, 1, 1]] * 3)
    logits = torch.zeros(4, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.1)
    for _ in range(500):
        opt.zero_grad()
        normalized_softmax_loss(logits.expand(5, 4), y, pick_all=pick_all).backward()
        opt.step()
    assert int(logits.argmax()) == want


def test_embedding_head_losses_and_bias_rules(bibtex):
    train, _ = bibtex
    emb = torch.from_numpy(LabelEmbedding(n_components=16).fit(train.Y).embeddings_)
    y = torch.from_numpy(train.Y[:8].toarray()).float()
    x = torch.randn(8, 1836)
    for loss in EmbeddingHead.LOSSES:
        head = EmbeddingHead(1836, emb, loss=loss, similarity="cosine")
        value = head.loss(head(x), y)
        assert torch.isfinite(value) and value.item() > 0
        value.backward()
        assert head.linear.weight.grad is not None
        assert head.scores(head(x)).shape == (8, 159)
    with pytest.raises(ValueError, match="never trains it"):
        EmbeddingHead(1836, emb, loss="cosine", bias=True)


def test_learned_embeddings_start_at_pmi_and_move(bibtex):
    train, _ = bibtex
    emb = torch.from_numpy(LabelEmbedding(n_components=16).fit(train.Y).embeddings_)
    y = torch.from_numpy(train.Y[:32].toarray()).float()
    x = torch.from_numpy(train.X[:32].toarray()).float()
    fixed = EmbeddingHead(1836, emb, loss="softmax", similarity="cosine")
    head = EmbeddingHead(1836, emb, loss="softmax", similarity="cosine", learn_embeddings=True)
    head.linear.load_state_dict(fixed.linear.state_dict())
    # Same start: identical scores; E is a parameter only when learned.
    assert torch.equal(head.scores(head(x)), fixed.scores(fixed(x)))
    assert "embeddings" not in dict(fixed.named_parameters())
    # Saved models keep the same keys either way, so load_model restores a learned E.
    assert head.state_dict().keys() == fixed.state_dict().keys()
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        head.loss(head(x), y).backward()
        opt.step()
    assert not torch.equal(head.embeddings.detach(), emb)
    assert torch.equal(fixed.embeddings, emb)
    with pytest.raises(ValueError, match="learn_embeddings"):
        EmbeddingHead(1836, emb, loss="cosine", learn_embeddings=True)


def test_hybrid_head_starts_as_the_low_rank_pmi_classifier(bibtex):
    from labelsphere.heads import HybridHead

    train, _ = bibtex
    emb = torch.from_numpy(LabelEmbedding(n_components=16).fit(train.Y).embeddings_)
    head = HybridHead(1836, emb)
    x = torch.randn(4, 1836)
    out = head(x)
    assert out.shape == (4, 16 + 159)
    z = out[:, :16]
    expected = z @ F.normalize(emb, dim=1).T + head.free.bias
    torch.testing.assert_close(head.scores(out), expected)
    y = torch.from_numpy(train.Y[:4].toarray()).float()
    both = head.loss(out, y)
    head.cosine_weight = 0.0
    assert both.item() > head.loss(out, y).item()  # the cosine term adds a positive amount


def test_unnormalised_scores_are_a_low_rank_linear_layer(bibtex):
    train, _ = bibtex
    emb = torch.from_numpy(LabelEmbedding(n_components=16).fit(train.Y).embeddings_)
    x = torch.from_numpy(train.X[:8].toarray()).float()
    head = EmbeddingHead(1836, emb, loss="softmax", similarity="dot", scale=2.0, normalize=False)
    z = head(x)
    # scale * z E^T on the raw output: what a linear layer with weight E A computes.
    torch.testing.assert_close(head.scores(z), 2.0 * z @ emb.T, rtol=1e-5, atol=1e-5)
    normed = EmbeddingHead(1836, emb, loss="softmax", similarity="dot", scale=2.0)
    normed.linear.load_state_dict(head.linear.state_dict())
    unit = z / z.norm(dim=1, keepdim=True)
    torch.testing.assert_close(normed.scores(z), 2.0 * unit @ emb.T, rtol=1e-5, atol=1e-5)


def test_hybrid_head_softmax_loss(bibtex):
    from labelsphere.heads import HybridHead, normalized_softmax_loss

    train, _ = bibtex
    emb = torch.from_numpy(LabelEmbedding(n_components=16).fit(train.Y).embeddings_)
    head = HybridHead(1836, emb, loss="softmax", cosine_weight=0.0)
    x = torch.from_numpy(train.X[:8].toarray()).float()
    y = torch.from_numpy(train.Y[:8].toarray()).float()
    out = head(x)
    torch.testing.assert_close(head.loss(out, y), normalized_softmax_loss(head.scores(out), y))
    with pytest.raises(ValueError, match="loss must be"):
        HybridHead(1836, emb, loss="cosine")
    pal = HybridHead(1836, emb, loss="softmax", cosine_weight=0.0, pick_all=True)
    pal.load_state_dict(head.state_dict())
    want = normalized_softmax_loss(head.scores(out), y, pick_all=True)
    torch.testing.assert_close(pal.loss(out, y), want)
    assert abs(float(want) - float(head.loss(out, y))) > 1e-3  # the two reductions differ here
    with pytest.raises(ValueError, match="pick_all"):
        HybridHead(1836, emb, loss="bce", pick_all=True)


def test_pick_all_in_the_linear_and_embedding_heads(bibtex):
    from labelsphere.heads import SoftmaxHead, normalized_softmax_loss

    train, _ = bibtex
    x = torch.from_numpy(train.X[:8].toarray()).float()
    y = torch.from_numpy(train.Y[:8].toarray()).float()
    head = SoftmaxHead(1836, train.Y.shape[1], pick_all=True)
    out = head(x)
    torch.testing.assert_close(head.loss(out, y), normalized_softmax_loss(out, y, pick_all=True))
    emb = torch.from_numpy(LabelEmbedding(n_components=16).fit(train.Y).embeddings_)
    e = EmbeddingHead(1836, emb, pick_all=True)
    z = e(x)
    torch.testing.assert_close(e.loss(z, y), normalized_softmax_loss(e.scores(z), y, pick_all=True))
    with pytest.raises(ValueError, match="pick_all"):
        EmbeddingHead(1836, emb, loss="bce", pick_all=True)


def test_prior_bias_starts_at_the_label_frequencies(bibtex):
    # sigmoid-prior: each bias is the log prior odds of its label, so before any step the
    # mean predicted probability of a label is its training frequency (weights near zero
    # on average); the default head starts every label at about p = 0.5.
    from labelsphere.heads import build_head

    Y = bibtex[0].Y
    counts, n = np.bincount(Y.indices, minlength=Y.shape[1]), Y.shape[0]
    torch.manual_seed(0)
    head = build_head("sigmoid-prior", 16, Y.shape[1], None)
    head.initialize(counts, n)
    p = np.clip(counts / n, 1 / (n + 1), n / (n + 1))
    np.testing.assert_allclose(head.linear.bias.detach().numpy(), np.log(p / (1 - p)), rtol=1e-5)
    probs = torch.sigmoid(head(torch.zeros(1, 16)))[0].detach().numpy()
    np.testing.assert_allclose(probs, p, rtol=1e-4)
    plain = build_head("sigmoid", 16, Y.shape[1], None)
    before = plain.linear.bias.detach().clone()
    plain.initialize(counts, n)  # no prior_bias: the initialisation is left alone
    assert torch.equal(plain.linear.bias, before)
    soft = build_head("softmax", 16, Y.shape[1], None, {"prior_bias": True})
    soft.initialize(counts, n)
    shares = torch.softmax(soft(torch.zeros(1, 16)), dim=1)[0].detach().numpy()
    np.testing.assert_allclose(
        shares, np.maximum(counts, 0.5) / np.maximum(counts, 0.5).sum(), rtol=1e-4
    )
    with pytest.raises(ValueError, match="label_counts must have shape"):
        head.initialize(counts[:-1], n)


def test_embedding_prior_bias_starts_at_the_label_shares(bibtex):
    # embedding heads with bias=true, prior_bias=true: with a zero output every cosine is 0,
    # so the softmax over the scores is exactly each label's share of the occurrences (the
    # softmax head's prior); with loss=bce the sigmoid of each score is the label frequency.
    from labelsphere.heads import build_head, label_basis

    Y = bibtex[0].Y
    counts, n = np.bincount(Y.indices, minlength=Y.shape[1]), Y.shape[0]
    basis = label_basis("embedding-learned", Y, 32, seed=0)
    options = {"bias": True, "prior_bias": True}
    head = build_head("embedding-learned", 16, Y.shape[1], basis, options)
    assert head.bias is not None and float(head.bias.detach().abs().max()) == 0.0
    head.initialize(counts, n)
    shares = torch.softmax(head.scores(torch.zeros(1, head.dim)), dim=1)[0].detach().numpy()
    np.testing.assert_allclose(
        shares, np.maximum(counts, 0.5) / np.maximum(counts, 0.5).sum(), rtol=1e-4
    )
    bce = build_head("embedding", 16, Y.shape[1], basis, {**options, "loss": "bce"})
    bce.initialize(counts, n)
    probs = torch.sigmoid(bce.scores(torch.zeros(1, bce.dim)))[0].detach().numpy()
    np.testing.assert_allclose(probs, np.clip(counts / n, 1 / (n + 1), n / (n + 1)), rtol=1e-4)
    no_prior = build_head("embedding-learned", 16, Y.shape[1], basis, {"bias": True})
    no_prior.initialize(counts, n)  # bias without prior_bias stays at zero
    assert float(no_prior.bias.detach().abs().max()) == 0.0
    with pytest.raises(ValueError, match="prior_bias=True needs bias=True"):
        build_head("embedding", 16, Y.shape[1], basis, {"prior_bias": True})
    with pytest.raises(ValueError, match="label_counts must have shape"):
        head.initialize(counts[:-1], n)


def test_training_applies_the_prior_bias_once(bibtex, tmp_path):
    # train() initialises the head from the training label counts before the first step.
    from labelsphere.train import TrainConfig, train

    tr = bibtex[0].subset(np.arange(256))
    cfg = TrainConfig(head="sigmoid-prior", hidden=(16,), epochs=1, batch_size=256, lr=1e-9)
    result = train(cfg, tr, tr, tmp_path / "run", progress=False)
    bias = result.load_predictor().model.head.linear.bias.detach().numpy()
    counts = np.bincount(tr.Y.indices, minlength=tr.Y.shape[1])
    p = np.clip(counts / 256, 1 / 257, 256 / 257)
    np.testing.assert_allclose(bias, np.log(p / (1 - p)), atol=1e-4)  # one step at lr 1e-9
    # the embedding heads' prior-started bias goes through training and the saved model too
    cfg = TrainConfig(
        head="embedding-learned",
        head_options={"bias": True, "prior_bias": True},
        n_components=16,
        hidden=(16,),
        epochs=1,
        batch_size=256,
        lr=1e-9,
    )
    result = train(cfg, tr, tr, tmp_path / "emb", progress=False)
    bias = result.load_predictor().model.head.bias.detach().numpy()
    share = np.maximum(counts, 0.5) / np.maximum(counts, 0.5).sum()
    np.testing.assert_allclose(bias, np.log(share), atol=1e-4)


def test_glas_penalty_is_its_definition_on_bibtex(bibtex):
    # GLaS (Guo et al., 2019) over the labels in the batch: mean of (k_i.k_j - G_ij)^2 with
    # G the average conditional co-occurrence frequency, computed here directly from Y.
    from labelsphere.heads import build_head, label_basis
    from labelsphere.heads.targets import csr_batch

    Y = bibtex[0].Y
    basis = label_basis("embedding-glas", Y, 32, seed=0)
    head = build_head("embedding-glas", 16, Y.shape[1], basis)
    assert head.learn_embeddings and head.glas == 1.0
    batch = Y[:64]
    y = torch.from_numpy(batch.toarray()).float()
    with pytest.raises(RuntimeError, match="call prepare"):
        head.glas_penalty(y)
    head.prepare(Y)
    Yf = Y.astype(np.float64)  # int8 label matrix: its own product would overflow
    A = (Yf.T @ Yf).toarray()
    S = np.flatnonzero(batch.toarray().any(axis=0))
    c = np.diag(A)[S]
    G = 0.5 * (A[np.ix_(S, S)] / c[None, :] + A[np.ix_(S, S)] / c[:, None])
    K = basis[S] / np.linalg.norm(basis[S], axis=1, keepdims=True)
    expected = np.mean((K @ K.T - G) ** 2)
    assert head.glas_penalty(y).item() == pytest.approx(expected, rel=1e-5)
    assert head.glas_penalty(csr_batch(batch)).item() == pytest.approx(expected, rel=1e-5)
    out = head(torch.randn(64, 16))
    plain = build_head("embedding-learned", 16, Y.shape[1], basis)
    plain.load_state_dict(head.state_dict())
    assert head.loss(out, y).item() == pytest.approx(plain.loss(out, y).item() + expected, rel=1e-5)
    with pytest.raises(ValueError, match="needs learn_embeddings"):
        build_head("embedding", 16, Y.shape[1], basis, {"glas": 1.0})
    with pytest.raises(ValueError, match="glas must be"):
        build_head("embedding-glas", 16, Y.shape[1], basis, {"glas": -1.0})


def test_glas_training_moves_the_label_geometry_towards_cooccurrence(bibtex, tmp_path):
    # Same seed and data, with and without the regulariser: after training, the GLaS term over
    # all labels is lower with it, and training called prepare() itself. (At the default
    # weight 1 the term moves little here; a strong weight shows the mechanism.)
    from labelsphere.train import TrainConfig, train

    tr = bibtex[0].subset(np.arange(2048))
    all_labels = torch.ones(1, tr.Y.shape[1])
    penalties = {}
    for head, options in (("embedding-learned", {}), ("embedding-glas", {"glas": 30.0})):
        cfg = TrainConfig(
            head=head,
            head_options=options,
            hidden=(32,),
            epochs=3,
            batch_size=128,
            lr=3e-3,
            n_components=32,
        )
        result = train(cfg, tr, tr, tmp_path / head, progress=False)
        trained = result.load_predictor().model.head
        trained.glas = 1.0  # measure the same term on both
        trained.prepare(tr.Y)
        penalties[head] = trained.glas_penalty(all_labels).item()
    assert penalties["embedding-glas"] < 0.9 * penalties["embedding-learned"], penalties


def test_softmax_plus_bce_is_both_losses_on_one_set_of_scores(bibtex):
    """loss="softmax+bce": the softmax loss plus BCE summed over labels, on the same scaled
    scores; its prior bias is the log prior odds (sigmoid of a zero output's score = frequency)."""
    import torch.nn.functional as F

    from labelsphere.heads import build_head, label_basis
    from labelsphere.heads.losses import normalized_softmax_loss

    X, Y = bibtex[0].X, bibtex[0].Y
    counts, n = np.bincount(Y.indices, minlength=Y.shape[1]), Y.shape[0]
    basis = label_basis("embedding-scale-cap", Y, 32, seed=0)
    options = {"loss": "softmax+bce", "learn_embeddings": True, "bias": True, "prior_bias": True}
    torch.manual_seed(0)
    head = build_head("embedding", X.shape[1], Y.shape[1], basis, options)
    head.initialize(counts, n)
    probs = torch.sigmoid(head.scores(torch.zeros(1, head.dim)))[0].detach().numpy()
    np.testing.assert_allclose(probs, np.clip(counts / n, 1 / (n + 1), n / (n + 1)), rtol=1e-4)
    x = torch.from_numpy(X[:64].toarray()).float()
    y = torch.from_numpy(Y[:64].toarray()).float()
    out = head(x)
    logits = head.scores(out)
    by_hand = (
        normalized_softmax_loss(logits, y)
        + F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / 64
    )
    torch.testing.assert_close(head.loss(out, y), by_hand, rtol=1e-5, atol=1e-5)
    head.loss(out, y).backward()  # trains the label table, the bias and the scale
    assert all(p.grad is not None for p in (head.embeddings, head.bias, head.log_scale))

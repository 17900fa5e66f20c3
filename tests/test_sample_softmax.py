"""Session 31's ``sample_softmax`` option of the embedding head, on real bibtex data: a softmax
over the batch's samples for each label in the batch (CLIP's other direction), added to the
per-sample softmax so the head is trained to rank each label's samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from labelsphere.data import train_val_test
from labelsphere.heads import build_head
from labelsphere.heads.targets import csr_batch
from labelsphere.predict import Predictor
from labelsphere.train import TrainConfig, train


@pytest.fixture(scope="module")
def splits(data_dir):
    return train_val_test("bibtex", data_dir)


def _batch(tr, start=0, n=128):
    x = torch.from_numpy(tr.X[start : start + n].toarray()).float()
    y = torch.from_numpy(tr.Y[start : start + n].toarray()).float()
    return x, y


@pytest.mark.parametrize(
    "options", [{}, {"free_logits": True, "free_normalize": True}, {"label_scale": True}]
)
def test_the_term_is_each_present_labels_softmax_over_the_samples(
    learned_prior_head, splits, options
):
    tr = splits[0]
    head = learned_prior_head(tr, sample_softmax=0.5, **options)
    with torch.no_grad():  # non-trivial free weights, gains and biases
        if head.free is not None:
            head.free.weight.normal_(std=0.1)
        if head.log_label_scale is not None:
            head.log_label_scale.normal_(std=0.3)
        head.bias.normal_()
    x, y = _batch(tr)
    out = head(x)
    scores = head.scores(out) - head.bias  # the bias is a shift per label: it cancels
    present = torch.nonzero(y.sum(0) > 0).squeeze(1)
    assert 20 < len(present) < y.shape[1]  # a batch holds some labels, not all
    log_p = F.log_softmax(scores[:, present], dim=0)  # over the samples
    yp = y[:, present]
    want = (-(yp * log_p).sum(0) / yp.sum(0)).mean()
    got = head.sample_softmax_loss(out, y)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(head.sample_softmax_loss(out, csr_batch(tr.Y[:128])), want)
    plain = learned_prior_head(tr, **options)
    plain.load_state_dict(head.state_dict())
    total = head.loss(out, y)
    torch.testing.assert_close(total, plain.loss(plain(x), y) + 0.5 * want)

    head.zero_grad()
    got.backward()
    assert head.bias.grad is None or float(head.bias.grad.abs().max()) < 1e-6
    absent = torch.ones(y.shape[1], dtype=torch.bool)
    absent[present] = False
    assert float(head.embeddings.grad[absent].abs().max()) == 0  # only the batch's labels
    assert float(head.embeddings.grad[present].abs().max()) > 0
    if head.free is not None:
        assert float(head.free.weight.grad[absent].abs().max()) == 0


def test_minimising_it_ranks_each_labels_samples_better(learned_prior_head, splits):
    """Steps on the term alone raise the batch's per-label AP, which the per-sample softmax
    does not target."""
    tr = splits[0]
    head = learned_prior_head(tr, sample_softmax=1.0)
    x, y = _batch(tr, n=256)
    labels = np.flatnonzero(y.sum(0).numpy() > 0)

    def label_ap() -> float:
        with torch.no_grad():
            s = head.scores(head(x)).numpy()
        return float(np.mean([average_precision_score(y[:, j], s[:, j]) for j in labels]))

    before = label_ap()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        head.sample_softmax_loss(head(x), y).backward()
        opt.step()
    after = label_ap()
    assert after > before + 0.1, (before, after)


def test_a_trained_model_ranks_the_same_through_an_index(
    splits, tmp_path, one_torch_thread, ranks_like_its_scores
):
    tr, va, te = splits
    options = {"sample_softmax": 1.0}
    cfg = TrainConfig(head="embedding-free-unit", head_options=options, hidden=(32,), epochs=2)
    result = train(cfg, tr, va, tmp_path / "run", progress=False)
    p = Predictor.load(result.run_dir / "model")
    assert p.model.head.sample_softmax == 1.0  # the option came back from config.json
    ranks_like_its_scores(p, te.X[:50])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loss": "cosine", "sample_softmax": 1.0}, "sample_softmax > 0 needs loss="),
        ({"sample_softmax": -1.0}, "sample_softmax must be a finite number >= 0"),
        ({"sample_softmax": float("inf")}, "sample_softmax must be a finite number >= 0"),
        ({"sample_softmax": float("nan")}, "sample_softmax must be a finite number >= 0"),
        ({"sample_softmax": True}, "sample_softmax must be a finite number >= 0"),
    ],
)
def test_bad_values_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        build_head("embedding", 8, 20, torch.randn(20, 4), options)


def test_embedding_two_way_is_the_spec_session_31_ran():
    from labelsphere.heads.registry import head_entry

    cap = head_entry("embedding-scale-cap")
    assert dict(head_entry("embedding-two-way").defaults) == {**cap.defaults, "sample_softmax": 1.0}

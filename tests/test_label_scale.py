"""Session 26's two embedding-head options, on real bibtex data: ``label_scale`` (a learned
per-label gain on the scaled cosine) and ``free_normalize`` (the free layer on unit inputs).
Each starts as the head without it, trains, and ranks the same through an index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsphere.data import train_val_test
from labelsphere.heads import build_head
from labelsphere.heads.losses import normalized_softmax_loss
from labelsphere.predict import Predictor
from labelsphere.train import TrainConfig, train


@pytest.fixture(scope="module")
def splits(data_dir):
    return train_val_test("bibtex", data_dir)


def _batch(tr, n=64):
    x = torch.from_numpy(tr.X[:n].toarray()).float()
    y = torch.from_numpy(tr.Y[:n].toarray()).float()
    return x, y


def test_label_scale_starts_as_the_default_and_scales_each_label(learned_prior_head, splits):
    tr = splits[0]
    plain, scaled = learned_prior_head(tr), learned_prior_head(tr, label_scale=True)
    x, y = _batch(tr)
    assert scaled.log_label_scale.shape == (tr.Y.shape[1],)
    torch.testing.assert_close(scaled.scores(scaled(x)), plain.scores(plain(x)))  # gains of 1
    with torch.no_grad():
        scaled.log_label_scale[3] = np.log(2.0)
        scaled.bias.zero_()
        plain.bias.zero_()
    s, p = scaled.scores(scaled(x)), plain.scores(plain(x))
    torch.testing.assert_close(s[:, 3], 2 * p[:, 3])
    torch.testing.assert_close(s[:, 4:], p[:, 4:])
    loss = scaled.loss(scaled(x), y)
    torch.testing.assert_close(loss, normalized_softmax_loss(s, y))
    loss.backward()
    assert scaled.log_label_scale.grad is not None
    assert scaled.log_label_scale.grad[tr.Y[:64].indices].abs().sum() > 0


def test_free_normalize_scores_the_unit_input(learned_prior_head, splits):
    tr = splits[0]
    head = learned_prior_head(tr, free_logits=True, free_normalize=True)
    x, _ = _batch(tr)
    with torch.no_grad():
        head.free.weight.normal_()
    V = head.free.weight.detach().clone()
    scores = head.scores(head(x))
    with torch.no_grad():
        head.free.weight.zero_()
    cosine_part = head.scores(head(x))  # the default head's scores
    unit = x / x.norm(dim=1, keepdim=True)
    torch.testing.assert_close(scores - cosine_part, unit @ V.T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "options", [{"label_scale": True}, {"free_logits": True, "free_normalize": True}]
)
def test_trained_options_rank_the_same_through_an_index(
    options, splits, tmp_path, one_torch_thread, ranks_like_its_scores
):
    tr, va, te = splits
    cfg = TrainConfig(head="embedding-scale-cap", head_options=options, hidden=(32,), epochs=2)
    result = train(cfg, tr, va, tmp_path / "run", progress=False)
    p = Predictor.load(result.run_dir / "model")
    head = p.model.head
    if "label_scale" in options:
        assert float(head.log_label_scale.detach().abs().max()) > 0  # the gains trained
    else:
        assert head.free_normalize and float(head.free.weight.detach().abs().max()) > 0
    ranks_like_its_scores(p, te.X[:50])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"free_normalize": True}, "free_normalize=True needs free_logits=True"),
        ({"loss": "cosine", "label_scale": True}, "label_scale=True needs a score-based loss"),
    ],
)
def test_bad_combinations_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        build_head("embedding", 8, 20, torch.randn(20, 4), options)


def test_cli_refuses_free_normalize_without_the_free_layer(data_dir, tmp_path):
    from typer.testing import CliRunner

    from labelsphere.cli import app

    out = tmp_path / "run"
    spec = "embedding-scale-cap[free_normalize=true]"
    args = ["train", "bibtex", "--head", spec, "--data-dir", str(data_dir), "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "free_normalize=True needs free_logits=True" in r.output, r.output
    assert "Traceback" not in r.output and not out.exists()


def test_a_label_scale_model_folds_in_new_labels_with_gain_one(
    splits, tmp_path, one_torch_thread, ranks_like_its_scores, hold_out_labels
):
    from labelsphere.foldin import fold_in

    tr, va, te = splits
    L = tr.Y.shape[1]
    keep, held, kept = hold_out_labels(tr)
    options = {"label_scale": True}
    cfg = TrainConfig(head="embedding-scale-cap", head_options=options, hidden=(32,), epochs=2)
    result = train(cfg, kept(tr), kept(va), tmp_path / "run", progress=False)
    before, _ = Predictor.load(result.run_dir / "model").scores(te.X[:50])
    names = [f"new{i}" for i in range(len(held))]
    out = fold_in(result.run_dir / "model", tr.Y[:, keep], tr.Y[:, held], names, tmp_path / "f")
    folded = Predictor.load(out)
    g = folded.model.head.log_label_scale.detach()
    assert g.shape == (L,) and float(g[: len(keep)].abs().max()) > 0
    assert float(g[len(keep) :].abs().max()) == 0
    after, _ = folded.scores(te.X[:50])
    np.testing.assert_allclose(after[:, : len(keep)], before, rtol=1e-5, atol=1e-5)
    ranks_like_its_scores(folded, te.X[:50])


def test_embedding_free_unit_is_the_spec_session_26_ran():
    from labelsphere.heads.registry import head_entry

    unit, cap = head_entry("embedding-free-unit"), head_entry("embedding-scale-cap")
    want = {**cap.defaults, "free_logits": True, "free_lr_scale": 3.0, "free_normalize": True}
    assert dict(unit.defaults) == want
    assert dict(head_entry("embedding-label-scale").defaults) == {
        **cap.defaults,
        "label_scale": True,
    }

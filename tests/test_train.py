"""Training loop on real data: learning, resume after interruption, checkpoints, model directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labelsphere.data import load_dataset
from labelsphere.train import TrainConfig, evaluate_model, load_model, train


@pytest.fixture(scope="module")
def bibtex(data_dir):
    train_ds = load_dataset("bibtex", split="train", data_dir=data_dir)
    test_ds = load_dataset("bibtex", split="test", data_dir=data_dir)
    return train_ds.subset(np.arange(2048)), test_ds.subset(np.arange(600))


def _config(**kw) -> TrainConfig:
    base = dict(
        head="embedding", n_components=64, hidden=(128,), epochs=3, batch_size=64, eval_every=16
    )
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize(
    "head", ["embedding", "sigmoid", "softmax", "asl", "pca", "random", "embedding-paper", "hybrid"]
)
def test_every_head_trains_and_writes_a_loadable_model(tmp_path, bibtex, head):
    tr, va = bibtex
    result = train(_config(head=head, lr=3e-3), tr, va, tmp_path / head, progress=False)
    assert result.steps == 3 * (2048 // 64)
    lines = (tmp_path / head / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(result.history) == 6
    first, last = result.history[0], result.history[-1]
    assert {"MAP@100", "mAP", "P@1", "P@3", "P@5", "nDCG@5", "PSP@5"} <= set(last)
    assert last["MAP@100"] > 0.15 and last["MAP@100"] >= first["MAP@100"] - 0.02
    model, meta, vocab = load_model(tmp_path / head / "model")
    assert vocab == tr.vocabulary and meta["config"]["head"] == head
    m = evaluate_model(model, va.X, va.Y, device=next(model.parameters()).device)
    assert m["MAP@100"] == pytest.approx(result.best["MAP@100"], abs=1e-5)


def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path, bibtex):
    tr, va = bibtex
    cfg = _config(dropout=0.2, schedule="cosine", warmup=0.1, checkpoint_every=16)
    full = train(cfg, tr, va, tmp_path / "full", progress=False)
    part = train(cfg, tr, va, tmp_path / "part", progress=False, stop_after=40)
    assert part.steps == 40
    # A graceful stop checkpoints where it stopped.
    assert json.loads((tmp_path / "part" / "checkpoints" / "latest.json").read_text())["step"] == 40
    resumed = train(cfg, tr, va, tmp_path / "part", resume=True, progress=False)
    assert resumed.steps == full.steps
    keys = ("step", "MAP@100", "P@1", "loss")
    got = np.array([[h[k] for k in keys] for h in resumed.history])
    want = np.array([[h[k] for k in keys] for h in full.history])
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_resume_rejects_a_different_config(tmp_path, bibtex):
    tr, va = bibtex
    train(_config(epochs=1), tr, va, tmp_path / "r", progress=False, stop_after=8)
    with pytest.raises(ValueError, match="different config"):
        train(_config(epochs=1, lr=0.1), tr, va, tmp_path / "r", resume=True, progress=False)


def test_more_epochs_continue_a_finished_run_exactly(tmp_path, bibtex):
    """A finished constant-rate run resumed with more epochs equals a run trained that long."""
    from labelsphere.heads import DEFAULT_HEAD

    tr, va = bibtex
    cfg4 = _config(head=DEFAULT_HEAD, epochs=4)
    full = train(cfg4, tr, va, tmp_path / "full", progress=False)
    short = train(_config(head=DEFAULT_HEAD, epochs=2), tr, va, tmp_path / "r", progress=False)
    assert short.steps == 2 * 32 and (tmp_path / "r" / "result.json").is_file()
    longer = train(cfg4, tr, va, tmp_path / "r", resume=True, progress=False)
    assert longer.steps == full.steps == 4 * 32
    keys = ("step", "MAP@100", "P@1", "loss")
    got = np.array([[h[k] for k in keys] for h in longer.history])
    want = np.array([[h[k] for k in keys] for h in full.history])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert json.loads((tmp_path / "r" / "config.json").read_text())["epochs"] == 4
    assert json.loads((tmp_path / "r" / "result.json").read_text())["steps"] == 4 * 32


def test_a_shorter_result_beside_a_longer_config_is_not_a_finished_run(tmp_path, bibtex):
    """A continuation killed after it rewrote config.json, then its directory merged again with
    a copy of the shorter run (cp -n brings the deleted result.json back): resumed, not reused."""
    from labelsphere.train.rundir import RunDir

    tr, va = bibtex
    cfg1, cfg2 = _config(epochs=1), _config(epochs=2)
    train(cfg1, tr, va, tmp_path / "r", progress=False)
    run = RunDir(tmp_path / "r")
    assert run.is_finished(cfg1) and not run.is_finished(cfg2)
    stale = run.result_path.read_bytes()
    run.write_config(cfg2, resume=True)  # the continuation begins (and is killed here)
    run.result_path.write_bytes(stale)
    assert not run.is_finished(cfg2)
    longer = train(cfg2, tr, va, tmp_path / "r", resume=True, progress=False)
    assert longer.steps == 2 * 32 and run.is_finished(cfg2)
    good = run.metrics_path.read_text()
    run.metrics_path.write_text(good + "{not json\n")  # a damaged history is not a finished run
    assert not run.is_finished(cfg2)


def test_more_epochs_refused_where_the_total_matters(tmp_path, bibtex):
    tr, va = bibtex
    # A cosine schedule depends on the total: its first epochs differ in a longer run.
    train(_config(epochs=1, schedule="cosine"), tr, va, tmp_path / "cos", progress=False)
    with pytest.raises(ValueError, match="only more epochs at a constant rate"):
        train(_config(epochs=2, schedule="cosine"), tr, va, tmp_path / "cos", resume=True)
    assert json.loads((tmp_path / "cos" / "config.json").read_text())["epochs"] == 1
    # An evaluation at the end of 32 steps that a 64-step run with eval_every=24 never makes.
    train(_config(epochs=1, eval_every=24), tr, va, tmp_path / "ev", progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "ev").iterdir() if p.is_file()}
    with pytest.raises(ValueError, match="not a multiple of eval_every"):
        train(
            _config(epochs=2, eval_every=24), tr, va, tmp_path / "ev", resume=True, progress=False
        )
    # Refused before anything changed: the finished run is still whole.
    assert {p.name: p.read_bytes() for p in (tmp_path / "ev").iterdir() if p.is_file()} == before


def test_early_stopping(tmp_path, bibtex):
    tr, va = bibtex
    # A learning rate this high stops improving quickly; patience 1 must stop before the budget.
    r = train(
        _config(head="sigmoid", lr=0.5, epochs=10, patience=1),
        tr,
        va,
        tmp_path / "es",
        progress=False,
    )
    assert r.stopped_early and r.steps < 10 * 32


def test_bad_config():
    with pytest.raises(ValueError, match="head must be one of"):
        TrainConfig(head="nope")
    with pytest.raises(ValueError, match="warmup"):
        TrainConfig(warmup=1.5)
    with pytest.raises(ValueError, match="unknown config fields"):
        TrainConfig.from_json({"head": "sigmoid", "learning_rate": 1})
    with pytest.raises(ValueError, match="input_dropout"):
        TrainConfig(input_dropout=1.0)
    with pytest.raises(ValueError, match="mixup"):
        TrainConfig(mixup=-0.1)


def test_mixup_mixes_inputs_and_labels_with_one_weight(bibtex):
    from labelsphere.train import mixup_batch

    tr, _ = bibtex
    x = torch.from_numpy(tr.X[:64].toarray()).float()
    y = torch.from_numpy(tr.Y[:64].toarray()).float()
    torch.manual_seed(0)
    xm, ym = mixup_batch(x, y, 0.4)
    torch.manual_seed(0)
    lam = float(torch.distributions.Beta(0.4, 0.4).sample())
    perm = torch.randperm(64)
    assert 0.0 < lam < 1.0
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x[perm])
    torch.testing.assert_close(ym, lam * y + (1 - lam) * y[perm])
    # Each soft label row keeps the mass of its two sources.
    torch.testing.assert_close(ym.sum(1), lam * y.sum(1) + (1 - lam) * y[perm].sum(1))


def test_mixup_run_resumes_exactly(tmp_path, bibtex):
    tr, va = bibtex
    cfg = _config(mixup=0.4, epochs=2, checkpoint_every=16)
    full = train(cfg, tr, va, tmp_path / "full", progress=False)
    train(cfg, tr, va, tmp_path / "part", progress=False, stop_after=24)
    resumed = train(cfg, tr, va, tmp_path / "part", resume=True, progress=False)
    got = [(h["step"], h["MAP@100"], h["loss"]) for h in resumed.history]
    want = [(h["step"], h["MAP@100"], h["loss"]) for h in full.history]
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5)
    # And mixup changes training: the same config without it ends elsewhere.
    plain = train(_config(epochs=2), tr, va, tmp_path / "plain", progress=False)
    assert plain.history[-1]["loss"] != pytest.approx(full.history[-1]["loss"], rel=1e-3)


def test_input_dropout_drops_features_in_training_only():
    from labelsphere.train import MLP

    torch.manual_seed(0)
    plain, dropped = MLP(50, (8,)), MLP(50, (8,), input_dropout=0.5)
    # Without input dropout no layer is added, so saved weights keep their names.
    assert [k for k in plain.state_dict()] == ["net.0.weight", "net.0.bias"]
    dropped.net[1].load_state_dict(plain.net[0].state_dict())
    x = torch.ones(4, 50)
    dropped.eval()
    assert torch.equal(dropped(x), plain(x))
    dropped.train()
    assert not torch.equal(dropped(x), plain(x))


def test_a_short_budget_is_a_prefix_of_a_long_one(tmp_path, bibtex):
    # benchmarks/budget_table.py reads shorter budgets off longer runs: with a constant schedule
    # the first e epochs of a run are the run with an e-epoch budget.
    tr, va = bibtex
    short = train(_config(epochs=1, eval_every=None), tr, va, tmp_path / "short", progress=False)
    long = train(_config(epochs=2, eval_every=None), tr, va, tmp_path / "long", progress=False)
    assert len(short.history) == 1 and len(long.history) == 2
    for key in ("step", "MAP@100", "P@1", "loss"):
        assert short.history[0][key] == pytest.approx(long.history[0][key], rel=1e-6)


def test_head_lr_scales_train_the_label_table_and_the_scale_at_their_own_rates(tmp_path, bibtex):
    """E moves at lr * label_lr_scale, log(scale) at lr * scale_lr_scale, the rest at lr."""
    from labelsphere.heads import label_basis

    tr, va = bibtex
    start = label_basis("embedding-learned", tr.Y, 64, 0)

    def moved(**opts: float) -> tuple[float, float, float]:
        cfg = _config(head="embedding-learned", head_options=opts, epochs=1)
        out = tmp_path / "_".join(f"{k}{v}" for k, v in opts.items())
        train(cfg, tr, va, out, progress=False, stop_after=20)
        train(cfg, tr, va, out, resume=True, progress=False)  # the extra groups resume
        head = load_model(out / "model")[0].head
        table = np.abs(head.embeddings.detach().numpy() - start).max()
        temperature = abs(head.log_scale.item() - np.log(10.0))
        return float(table), float(head.linear.weight.detach().abs().sum()), temperature

    table_1, linear_1, temp_1 = moved()
    table_slow, linear_slow, temp_slow = moved(label_lr_scale=1e-3)
    table_fast, _, _ = moved(label_lr_scale=3.0)
    _, _, temp_fast = moved(scale_lr_scale=10.0)
    # Adam's step is about lr per step whatever the gradient: 32 steps at 1e-6 < 1e-4.
    assert table_slow < 1e-4 < table_1 < table_fast
    assert linear_slow > 0.5 * linear_1  # the output layer still trained
    assert temp_slow == pytest.approx(temp_1, rel=0.2) and temp_1 <= 32 * 1e-3 * 1.1
    assert temp_fast > 3 * temp_1
    with pytest.raises(ValueError, match="label_lr_scale"):
        TrainConfig(head="embedding", head_options={"label_lr_scale": 0.5})
    with pytest.raises(ValueError, match="scale_lr_scale"):
        TrainConfig(head="embedding", head_options={"scale_lr_scale": 0})


def test_max_scale_caps_the_learned_temperature_and_training_records_it(tmp_path, bibtex):
    """Each evaluation records the head's scale; with max_scale it stops there, scores included."""
    tr, va = bibtex

    def scales(**opts: float) -> tuple[list[float], float]:
        cfg = _config(head="embedding-learned", head_options=opts, epochs=1, eval_every=8)
        out = tmp_path / "_".join(f"{k}{v}" for k, v in opts.items())
        result = train(cfg, tr, va, out, progress=False)
        _, factor = load_model(out / "model")[0].head.index_keys()
        return [rec["head"]["scale"] for rec in result.history], factor

    # Started low, the scale rises on this data (3.0 -> 3.9 over the epoch).
    free, free_factor = scales(scale=3.0, scale_lr_scale=10.0)
    capped, capped_factor = scales(scale=3.0, scale_lr_scale=10.0, max_scale=3.5)
    assert len(free) == len(capped) >= 3
    assert free[-1] > 3.7 and free_factor == pytest.approx(free[-1], rel=1e-5)
    assert max(capped) == pytest.approx(3.5) and capped_factor == pytest.approx(3.5)
    assert capped[0] == pytest.approx(free[0])  # the same warm-up below the cap
    with pytest.raises(ValueError, match="max_scale"):
        TrainConfig(head="embedding", head_options={"max_scale": 0})
    with pytest.raises(ValueError, match="max_scale needs a score-based loss"):
        TrainConfig(head="embedding-paper", head_options={"max_scale": 20})

"""RunDir, train's result and Predictor on a seeded synthetic set: the fast tier, no real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from labelsphere.artifacts import FormatError
from labelsphere.data import MultiLabelDataset
from labelsphere.device import resolve_device
from labelsphere.labels import LabelVocabulary
from labelsphere.metrics import average_precision_per_label, propensity_scores
from labelsphere.predict import Predictor, read_rows
from labelsphere.train import RunDir, TrainConfig, evaluate_model, train

L, D = 10, 16


def _dataset(n: int, seed: int, name: str) -> MultiLabelDataset:
    """Labels drawn from a fixed linear teacher on Gaussian features: learnable, seeded."""
    teacher = np.random.default_rng(123).standard_normal((D, L))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D)).astype(np.float32)
    logits = X @ teacher
    Y = (logits > np.quantile(logits, 0.75, axis=1, keepdims=True)).astype(np.int8)
    vocab = LabelVocabulary([f"label{i}" for i in range(L)])
    return MultiLabelDataset(X, sp.csr_matrix(Y), vocab, name)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tr, va, te = _dataset(512, 0, "syn/train"), _dataset(128, 1, "syn/val"), _dataset(128, 2, "t")
    run = RunDir(tmp_path_factory.mktemp("run"))
    cfg = TrainConfig(head="embedding", n_components=4, hidden=(16,), epochs=3, batch_size=64)
    result = train(cfg, tr, va, run, progress=False)
    return run, cfg, result, (tr, va, te)


def test_rundir_knows_every_file_of_a_run(trained):
    run, cfg, result, _ = trained
    assert run.read_config() == cfg
    assert run.read_history() == result.history and len(result.history) == 3
    saved = run.read_result()
    assert saved["complete"] and saved["steps"] == result.steps == 3 * 8
    assert saved["peak_rss_mb"] == result.peak_rss_mb  # written once, with the peak
    assert run.is_finished(cfg) and not run.is_finished(TrainConfig(head="sigmoid"))
    assert run.summary()["run_dir"] == str(run.path)
    assert (run.model_dir / "model.json").is_file()
    with pytest.raises(ValueError, match="different config"):
        run.write_config(TrainConfig(head="sigmoid"), resume=True)


def test_result_loads_its_best_model_and_evaluates_like_validation(trained):
    _, _, result, (tr, va, te) = trained
    predictor = result.load_predictor()
    assert predictor.kind == "features" and predictor.in_features == D
    # The best checkpoint scores validation exactly as the loop did, PSP@k included, with the
    # propensities of the training labels saved beside the model.
    val = predictor.evaluate(va)
    assert {k: val[k] for k in result.best if k in val} == pytest.approx(
        {k: v for k, v in result.best.items() if k in val}
    )
    assert {"MAP@100", "PSP@5", "micro-F1", "macro-F1"} <= set(val)
    np.testing.assert_allclose(predictor.propensities(), propensity_scores(tr.Y))
    m = evaluate_model(predictor.model, te.X, te.Y, predictor.device, propensity_scores(tr.Y))
    assert {k: v for k, v in result.evaluate(te).items() if "F1" not in k} == pytest.approx(m)
    assert m["MAP@100"] > 0.5  # the teacher is linear: far above chance (~0.3)


def test_predictor_top_k_and_thresholds(trained):
    run, _, _, (_, _, te) = trained
    predictor = run.load_predictor()
    preds = predictor.predict(te.X[:3], k=3)
    assert [p.input for p in preds] == ["0", "1", "2"]
    assert all(len(p.labels) == 3 for p in preds)
    scores, ok = predictor.scores(te.X[:3])
    assert ok.all() and scores.shape == (3, L)
    top = np.argsort(-scores[0])[:3]
    assert [n for n, _ in preds[0].labels] == [f"label{i}" for i in top]
    cut = float(scores[0, top[1]] + scores[0, top[2]]) / 2  # between the 2nd and 3rd
    high = predictor.predict(te.X[:1], k=L, threshold=cut)[0]
    assert [n for n, _ in high.labels] == [f"label{i}" for i in top[:2]]
    sparse = predictor.predict(sp.csr_matrix(te.X[:3]), k=3)
    for a, b in zip(sparse, preds, strict=True):
        assert [n for n, _ in a.labels] == [n for n, _ in b.labels]
        np.testing.assert_allclose([v for _, v in a.labels], [v for _, v in b.labels], rtol=1e-5)


def test_predictor_refuses_bad_rows_with_one_clear_message(trained, tmp_path):
    run, _, _, (_, _, te) = trained
    predictor = run.load_predictor()
    with pytest.raises(ValueError, match="rows have 3 features, the model expects 16"):
        predictor.scores(np.zeros((2, 3)))
    bad = te.X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        predictor.scores(bad)
    with pytest.raises(ValueError, match="trained on feature vectors"):
        predictor.scores(["a.png"])
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npy"):
        read_rows(tmp_path / "empty.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj\.npy"):
        read_rows(tmp_path / "obj.npy")  # never unpickled
    with pytest.raises(ValueError, match="expected feature rows"):
        read_rows(tmp_path / "rows.txt")


def test_a_broken_model_json_is_one_clear_error(trained, tmp_path):
    run, *_ = trained
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.json").write_text("[]")
    with pytest.raises(FormatError, match="expected a JSON object"):
        Predictor.load(broken)
    meta = json.loads((run.model_dir / "model.json").read_text())
    del meta["config"]
    (broken / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="no 'config'"):
        Predictor.load(broken)


def test_one_device_resolver():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_blocked_evaluation_equals_the_full_one_at_k_up_to_100(trained):
    from labelsphere.train.evaluation import blocked_metrics

    run, _, _, (tr, _, te) = trained
    predictor = run.load_predictor()
    p = propensity_scores(tr.Y)
    full = blocked_metrics(predictor.scores, te.X, te.Y, p)
    small = blocked_metrics(predictor.scores, te.X, te.Y, p, limit=3 * L)  # blocks of 3 rows
    assert "mAP" in full and "mAP" not in small
    assert small == pytest.approx({k: v for k, v in full.items() if k != "mAP"})


def test_calibrated_sets_come_from_thresholds_fitted_on_validation(trained):
    from labelsphere.calibration import LabelThresholds, set_f1

    run, _, _, (_, va, te) = trained
    predictor = run.load_predictor()
    assert predictor.thresholds is not None and predictor.thresholds.thresholds_.shape == (L,)
    scores, _ = predictor.scores(va.X)
    fitted = LabelThresholds().fit(va.Y, scores)
    np.testing.assert_allclose(fitted.thresholds_, predictor.thresholds.thresholds_)
    # On the split they were fitted on, per-label thresholds beat any single global one.
    sets = fitted.predict_sets(scores)
    one = sp.csr_matrix((scores >= fitted.global_threshold_).astype(np.int8))
    assert set_f1(va.Y, sets)["macro-F1"] >= set_f1(va.Y, one)["macro-F1"]
    preds = predictor.predict(te.X[:4], k=3, threshold="calibrated")
    margins = predictor.thresholds.margins(predictor.scores(te.X[:4])[0])
    for p, m in zip(preds, margins, strict=True):
        assert [n for n, _ in p.set] == [f"label{j}" for j in np.argsort(-m) if m[j] >= 0]
        assert all(s >= 0 for _, s in p.set) and "set" in p.to_json()
    with pytest.raises(ValueError, match="number or 'calibrated'"):
        predictor.predict(te.X[:1], threshold="high")


def test_cli_turns_every_expected_failure_into_one_line(trained, tmp_path):
    from typer.testing import CliRunner

    from labelsphere.cli import app

    run, _, _, (_, _, te) = trained
    runner = CliRunner()
    rows = te.X[:2].copy()
    rows[1, 3] = np.inf
    np.save(tmp_path / "inf.npy", rows)
    np.save(tmp_path / "good.npy", te.X[:2])
    (tmp_path / "empty.npy").write_bytes(b"")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text('{"format": "labelsphere.Model"')
    cases = [
        (["predict", str(run.model_dir), str(tmp_path / "inf.npy")], "NaN or infinity"),
        (["predict", str(run.model_dir), str(tmp_path / "empty.npy")], "empty.npy"),
        (["predict", str(run.model_dir), str(tmp_path / "none.npy")], "none.npy"),
        (["predict", str(broken), str(tmp_path / "inf.npy")], "not valid JSON"),
        (["predict", str(run.model_dir), "--text", "hello"], "not trained on text"),
        (
            ["predict", str(run.model_dir), str(tmp_path / "good.npy"), "--threshold", "x"],
            "'calibrated'",
        ),
        (["train", "bibtex", "--head", "embedding[n_iter=x]"], "n_iter"),
    ]
    for args, message in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and "Traceback" not in r.output, (args, r.output)
        assert r.output.count("\n") == 1, r.output  # one line


def test_similar_and_map_read_a_models_label_space(trained, tmp_path):
    from typer.testing import CliRunner

    from labelsphere.cli import app

    run, *_ = trained
    predictor = run.load_predictor()
    V, what = predictor.label_vectors()
    assert V.shape == (L, 4) and what == "label embedding"
    near = predictor.similar("label3", k=4)
    assert len(near) == 4 and "label3" not in [n for n, _ in near]
    Vn = V / np.linalg.norm(V, axis=1, keepdims=True)
    want = [f"label{j}" for j in np.argsort(-(Vn @ Vn[3]))[1:5]]
    assert [n for n, _ in near] == want
    runner = CliRunner()
    r = runner.invoke(app, ["similar", str(run.model_dir), "label3", "-k", "4", "--json"])
    assert r.exit_code == 0 and [x["label"] for x in json.loads(r.output)] == want
    r = runner.invoke(app, ["similar", str(run.model_dir), "nope"])
    assert r.exit_code == 2 and "unknown label 'nope'" in r.output
    r = runner.invoke(app, ["map", str(run.model_dir), "--out", str(tmp_path / "m.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fold_in_adds_labels_without_touching_the_network(trained, tmp_path):
    from safetensors.torch import load_file

    from labelsphere.foldin import fold_in

    run, _, _, (tr, _, te) = trained
    # Two "new" labels that are copies of labels 2 and 5: they must land next to them.
    new = tr.Y[:, [2, 5]]
    out = fold_in(run.model_dir, tr.Y, new, ["new2", "new5"], tmp_path / "folded")
    old_w = load_file(str(run.model_dir / "model.safetensors"))
    new_w = load_file(str(out / "model.safetensors"))
    for k, v in old_w.items():
        if k != "head.embeddings":
            assert torch.equal(v, new_w[k]), k  # network weights untouched
    assert new_w["head.embeddings"].shape == (L + 2, 4)
    assert torch.equal(new_w["head.embeddings"][:L], old_w["head.embeddings"])
    folded = Predictor.load(out)
    assert folded.vocabulary.names[-2:] == ["new2", "new5"] and folded.n_labels == L + 2
    assert [n for n, _ in folded.similar("new2", 1)] == ["label2"]
    assert [n for n, _ in folded.similar("new5", 1)] == ["label5"]
    s_old, _ = run.load_predictor().scores(te.X)
    s_new, _ = folded.scores(te.X)
    np.testing.assert_allclose(s_new[:, :L], s_old, rtol=1e-5, atol=1e-5)
    assert np.corrcoef(s_new[:, L], s_old[:, 2])[0, 1] > 0.3  # d = 4: a rough copy
    assert folded.thresholds is not None and folded.thresholds.thresholds_.shape == (L + 2,)
    with pytest.raises(ValueError, match="already in the model"):
        fold_in(run.model_dir, tr.Y, new, ["label1", "x"], tmp_path / "again")


def test_fold_in_centroids_for_learned_embeddings_and_their_bias(trained, tmp_path):
    from safetensors.torch import load_file

    from labelsphere.foldin import fold_in

    run0, _, _, (tr, va, te) = trained
    run = RunDir(tmp_path / "learned")
    cfg = TrainConfig(
        head="embedding-learned-prior", n_components=4, hidden=(16,), epochs=3, batch_size=64
    )
    train(cfg, tr, va, run, progress=False)
    new = tr.Y[:, [2, 5]]
    with pytest.raises(ValueError, match="fixed PMI"):
        fold_in(run.model_dir, tr.Y, new, ["new2", "new5"], tmp_path / "x", method="lstsq")
    out = fold_in(run.model_dir, tr.Y, new, ["new2", "new5"], tmp_path / "folded")
    meta = json.loads((out / "model.json").read_text())
    assert meta["folded_in"]["method"] == "centroid" and meta["n_labels"] == L + 2
    old_w, new_w = (
        load_file(str(run.model_dir / "model.safetensors")),
        load_file(str(out / "model.safetensors")),
    )
    for k, v in old_w.items():
        if k not in ("head.embeddings", "head.bias"):
            assert torch.equal(v, new_w[k]), k  # network weights untouched
    assert new_w["head.embeddings"].shape == (L + 2, 4) and new_w["head.bias"].shape == (L + 2,)
    assert torch.equal(new_w["head.bias"][:L], old_w["head.bias"])
    # A copy's bias is its prior plus the median drift: near the original's, never far off.
    b = new_w["head.bias"]
    assert abs(float(b[L] - b[2])) < 1.0 and abs(float(b[L + 1] - b[5])) < 1.0
    folded = Predictor.load(out)
    # d = 4 keys for 10 labels are far from orthogonal (label2's nearest is label6), and a
    # centroid leans towards the labels its samples share: the copy is among the two nearest.
    assert "label2" in [n for n, _ in folded.similar("new2", 2)]
    assert "label5" in [n for n, _ in folded.similar("new5", 2)]
    s_old, _ = run.load_predictor().scores(te.X)
    s_new, _ = folded.scores(te.X)
    np.testing.assert_allclose(s_new[:, :L], s_old, rtol=1e-5, atol=1e-5)
    for j, orig in enumerate([2, 5]):
        assert np.corrcoef(s_new[:, L + j], s_old[:, orig])[0, 1] > 0.8
    ap = average_precision_per_label(te.Y[:, [2, 5]], s_new[:, L:])
    assert np.all(ap >= 0.8 * average_precision_per_label(te.Y[:, [2, 5]], s_old[:, [2, 5]]))
    # The fixed-PMI default takes centroids too when asked; a sigmoid head takes neither.
    c = fold_in(run0.model_dir, tr.Y, new, ["n2", "n5"], tmp_path / "c", method="centroid")
    assert json.loads((c / "model.json").read_text())["folded_in"]["method"] == "centroid"
    sig = RunDir(tmp_path / "sigmoid")
    train(TrainConfig(head="sigmoid", hidden=(16,), epochs=1), tr, va, sig, progress=False)
    with pytest.raises(ValueError, match="per-label trained weights"):
        fold_in(sig.model_dir, tr.Y, new, ["new2", "new5"], tmp_path / "s")
    # A new label only on a sample without old labels has no co-occurrence to go by.
    Y_old = tr.Y.tolil()
    Y_old[0, :] = 0
    lonely = np.zeros((tr.Y.shape[0], 1), np.int8)
    lonely[0, 0] = 1
    with pytest.raises(ValueError, match="nothing to fold in from: \\['alone'\\]"):
        fold_in(run.model_dir, Y_old.tocsr(), lonely, ["alone"], tmp_path / "l")


@pytest.mark.parametrize("backend", ["exact", "faiss-flat"])
def test_index_backends_rank_like_the_full_scores(trained, backend):
    run, _, _, (_, _, te) = trained
    predictor = run.load_predictor()
    dense = predictor.predict(te.X[:20], k=5)
    fast = predictor.predict(te.X[:20], k=5, backend=backend)
    for a, b in zip(fast, dense, strict=True):
        assert [n for n, _ in a.labels] == [n for n, _ in b.labels]
        np.testing.assert_allclose([v for _, v in a.labels], [v for _, v in b.labels], rtol=1e-4)

"""benchmarks/label_diagnostics.py on real bibtex models trained here: frequency bands and the
post-hoc prior adjustment."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from labelsphere.data import load_dataset
from labelsphere.decode import topk
from labelsphere.predict import Predictor
from labelsphere.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
HEADS = ("sigmoid-prior", "embedding-scale-cap")


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory, data_dir):
    """Two heads trained on 600 bibtex items, and the script's JSON for them."""
    root = tmp_path_factory.mktemp("models")
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(600))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(200))
    for head in HEADS:
        cfg = TrainConfig(head=head, n_components=16, hidden=(32,), epochs=2, batch_size=64)
        train(cfg, tr, va, root / head, progress=False)
    script = runpy.run_path(str(ROOT / "benchmarks" / "label_diagnostics.py"))
    out = root / "d.json"
    args = ["bibtex", "--data-dir", str(data_dir), "--edges", "0,10,30", "--taus", "0.3,1"]
    args += ["--min-counts", "0,10,30"]
    for head in HEADS:
        args += ["--run", head, str(root / head / "model")]
    assert script["main"]([*args, "--json", str(out), "--png", str(root / "bands.png")]) == 0
    return root, tr, script, json.loads(out.read_text())["runs"]


def test_bands_come_from_the_saved_train_counts_and_add_up(diagnosed, data_dir):
    root, tr, _, runs = diagnosed
    counts = np.asarray(tr.Y.sum(axis=0)).ravel()
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    Y = test.Y.toarray()
    for head, r in runs.items():
        rs = r["bands"]
        # The bands come from the model's own training counts (600 items), not the full train.
        assert [b["n_labels"] for b in rs] == [
            int(((counts >= lo) & (counts < hi)).sum()) for lo, hi in ((0, 10), (10, 30), (30, 1e9))
        ]
        # Over all bands, R@5 weighted by the bands' shares is the micro recall of the top 5.
        scores, _ = Predictor.load(root / head / "model").scores(test.X)
        ranked, _ = topk(scores, 5)
        hits = np.take_along_axis(Y, ranked, axis=1).sum()
        assert sum(b["positives_share"] * b["R@5"] for b in rs) == pytest.approx(hits / Y.sum())
    table = (root / "d.md").read_text().splitlines()
    assert table[2].startswith("| 0-9 | ") and "(×)" in table[0]
    assert (root / "bands.png").stat().st_size > 10_000


def test_vocabulary_cuts_rank_and_score_only_the_kept_labels(diagnosed, data_dir):
    root, tr, _, runs = diagnosed
    counts = np.asarray(tr.Y.sum(axis=0)).ravel()
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    for head, r in runs.items():
        assert r["n_train"] == 600
        cuts = r["cuts"]
        assert [c["min_count"] for c in cuts] == [0, 10, 30]
        # No cut is the model as evaluated everywhere else.
        assert cuts[0]["MAP@100"] == pytest.approx(r["test"][0]["MAP@100"])
        assert cuts[0]["n_labels"] == counts.size
        scores, _ = Predictor.load(root / head / "model").scores(test.X)
        for c in cuts[1:]:
            keep = counts >= c["min_count"]
            Y = test.Y[:, keep]
            assert c["n_labels"] == keep.sum()
            assert c["n_samples"] == int((np.asarray(Y.sum(axis=1)).ravel() > 0).sum())
            ranked, _ = topk(scores[:, keep], 100)
            hits = np.take_along_axis(Y.toarray(), ranked[:, :1], axis=1).ravel()
            has = np.asarray(Y.sum(axis=1)).ravel() > 0
            assert c["P@1"] == pytest.approx(hits[has].mean())
        assert cuts[2]["MAP@100"] != cuts[0]["MAP@100"]
    table = (root / "d.md").read_text()
    assert "| min train count | labels | test samples |" in table


def test_prior_adjustment_reproduces_the_model_at_zero_and_picks_on_validation(diagnosed, data_dir):
    root, _, _, runs = diagnosed
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    for head, r in runs.items():
        assert r["taus"] == [0.0, 0.3, 1.0]  # tau 0 is always measured
        want = Predictor.load(root / head / "model").evaluate(test)
        assert r["test"][0]["MAP@100"] == pytest.approx(want["MAP@100"])
        assert r["test"][0]["PSP@5"] == pytest.approx(want["PSP@5"])
        val = [row["MAP@100"] for row in r["val"]]
        assert r["picked_tau"] == r["taus"][val.index(max(val))]
        assert len({row["P@1"] for row in r["test"]}) > 1  # tau changes the ranking
    assert "**" in (root / "d.md").read_text()


def test_bad_arguments_end_in_one_line(diagnosed, tmp_path, data_dir):
    main = diagnosed[2]["main"]
    with pytest.raises(SystemExit, match="--edges: expected comma-separated finite numbers"):
        main(["bibtex", "--edges", "5,x", "--run", "a", str(tmp_path)])
    for bad in ("0,x", "0,nan"):
        with pytest.raises(SystemExit, match="--taus: expected comma-separated finite numbers"):
            main(["bibtex", "--taus", bad, "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match="--min-counts: expected counts >= 0"):
        main(["bibtex", "--min-counts", "5,-1", "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match="--min-counts: expected comma-separated finite"):
        main(["bibtex", "--min-counts", "5,x", "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match="--min-counts: no label has 100000 training samples"):
        main(
            [
                "bibtex",
                "--data-dir",
                str(data_dir),
                "--taus",
                "0",
                "--min-counts",
                "100000",
                "--run",
                "a",
                str(diagnosed[0] / "sigmoid-prior" / "model"),
                "--json",
                str(tmp_path / "no.json"),
            ]
        )
    assert not (tmp_path / "no.json").exists()  # nothing written when a cut is impossible
    with pytest.raises(SystemExit, match="--dataset-option: expected KEY=VALUE, got 'oops'"):
        main(["bibtex", "--dataset-option", "oops", "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"label_diagnostics: .*model.json: file not found"):
        main(["bibtex", "--data-dir", str(data_dir), "--run", "a", str(tmp_path)])


def test_predictor_prior_adjustment_ranks_as_the_script_measured(diagnosed, data_dir):
    """Predictor(prior_adjustment=tau) gives the script's test row at that tau, through the
    dense scores and through an index; scores() and the calibrated sets stay the head's own."""
    root, tr, _, runs = diagnosed
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    for head, r in runs.items():
        for tau, row in zip(r["taus"], r["test"], strict=True):
            p = Predictor.load(root / head / "model", prior_adjustment=tau)
            m = p.evaluate(test)
            for key in ("MAP@100", "P@1", "PSP@5"):
                assert m[key] == pytest.approx(row[key], abs=1e-6)
        plain = Predictor.load(root / head / "model")
        p = Predictor.load(root / head / "model", prior_adjustment=1.0)
        X = test.X[:50]
        raw, _ = p.scores(X)
        np.testing.assert_array_equal(raw, plain.scores(X)[0])
        counts = np.asarray(tr.Y.sum(axis=0)).ravel()
        want, want_v = topk(raw - np.log(np.maximum(counts, 1) / len(tr)), 5)
        got = p.predict(X, k=5)
        names = p.vocabulary.names
        assert [[names.index(n) for n, _ in g.labels] for g in got] == want.tolist()
        assert got[0].labels[0][1] == pytest.approx(float(want_v[0, 0]), rel=1e-5)
        if head == "embedding-scale-cap":
            for backend in ("exact", "faiss-flat"):
                idx, vals = p.topk(X, 5, backend)
                np.testing.assert_array_equal(idx, want)
                np.testing.assert_allclose(vals, want_v, rtol=1e-4, atol=1e-4)
        a = plain.evaluate(test)
        b = p.evaluate(test)
        assert b["mAP"] == pytest.approx(a["mAP"])  # per-label AP ignores a per-label shift
        assert b["MAP@100"] != a["MAP@100"]
        if "micro-F1" in a:  # the calibrated sets use the head's own scores
            assert b["micro-F1"] == a["micro-F1"]


@pytest.mark.parametrize(("tau", "message"), [(-0.1, ">= 0, got -0.1"), (float("nan"), "nan")])
def test_a_bad_prior_adjustment_is_one_clear_error(diagnosed, tau, message):
    root = diagnosed[0]
    with pytest.raises(ValueError, match=f"prior_adjustment must be .*{message}"):
        Predictor.load(root / "sigmoid-prior" / "model", prior_adjustment=tau)


def test_cli_prior_adjustment(diagnosed, data_dir):
    from typer.testing import CliRunner

    from labelsphere.cli import app

    root, _, _, runs = diagnosed
    model = str(root / "embedding-scale-cap" / "model")
    args = ["evaluate", model, "bibtex", "--data-dir", str(data_dir), "--json"]
    done = CliRunner().invoke(app, [*args, "--prior-adjustment", "0.3"])
    assert done.exit_code == 0, done.output
    row = runs["embedding-scale-cap"]["test"][1]  # tau 0.3
    assert json.loads(done.output)["MAP@100"] == pytest.approx(row["MAP@100"], abs=1e-6)
    done = CliRunner().invoke(app, [*args, "--prior-adjustment", "-1"])
    assert done.exit_code != 0
    assert done.output.strip().splitlines()[-1].endswith("prior_adjustment must be >= 0, got -1.0")


def test_serving_with_a_prior_adjustment_ranks_as_the_predictor(diagnosed, data_dir):
    from fastapi.testclient import TestClient

    from labelsphere.serve import create_app

    model = diagnosed[0] / "embedding-scale-cap" / "model"
    rows = load_dataset("bibtex", split="test", data_dir=data_dir).X[:3]
    rows = rows.toarray() if hasattr(rows, "toarray") else rows
    p = Predictor.load(model, prior_adjustment=0.3)
    want = [[n for n, _ in g.labels] for g in p.predict(rows, k=4)]
    for backend in (None, "faiss-flat"):
        c = TestClient(create_app(model, backend=backend, prior_adjustment=0.3))
        got = c.post("/predict", json={"rows": rows.tolist(), "k": 4}).json()["predictions"]
        assert [[x["label"] for x in g["labels"]] for g in got] == want
    plain = [[n for n, _ in g.labels] for g in Predictor.load(model).predict(rows, k=4)]
    assert plain != want  # the adjustment moved something in these rows
    with pytest.raises(ValueError, match="prior_adjustment must be >= 0"):
        create_app(model, prior_adjustment=-1.0)


def test_band_scaling_places_bands_at_their_training_share(diagnosed, tmp_path, data_dir):
    root, _, _, runs = diagnosed
    main = runpy.run_path(str(ROOT / "benchmarks" / "band_scaling.py"))["main"]
    src, out = root / "d.json", tmp_path / "s.json"
    args = ["--set", "600 items", str(src), "--set", "as if 1200", str(src), "1200"]
    assert main([*args, "--json", str(out), "--png", str(tmp_path / "s.png")]) == 0
    sets = json.loads(out.read_text())["sets"]
    a, b = sets["600 items"], sets["as if 1200"]
    assert a["n_train"] == 600 and b["n_train"] == 1200  # the first from the JSON's n_train
    assert [r["band"] for r in a["bands"]] == ["0-9", "10-29", "30+"]
    # Band 10-29 sits at sqrt(10 * 29) / n_train; the open band counts to 3x its low end.
    assert a["bands"][1]["train_share"] == pytest.approx((10 * 29) ** 0.5 / 600)
    assert b["bands"][2]["train_share"] == pytest.approx((30 * 89) ** 0.5 / 1200)
    base, head = (runs[h]["bands"] for h in HEADS)
    assert a["bands"][1]["R@5"] == pytest.approx(head[1]["R@5"] / base[1]["R@5"])
    micro = [sum(r["positives_share"] * r["R@5"] for r in x) for x in (base, head)]
    assert a["micro R@5"] == pytest.approx(micro[1] / micro[0])
    assert a["head"] == HEADS[1] and a["baseline"] == HEADS[0]
    assert (tmp_path / "s.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="N_TRAIN must be a positive integer, got 'x'"):
        main(["--set", "a", str(src), "x"])
    with pytest.raises(SystemExit, match=r"no run named 'nope'"):
        main(["--set", "a", str(src), "--head", "nope"])
    with pytest.raises(SystemExit, match="not a label_diagnostics JSON"):
        main(["--set", "a", str(tmp_path / "s.png")])
    old = tmp_path / "old.json"  # written before n_train was recorded
    old.write_text(json.dumps({"runs": {h: {"bands": []} for h in HEADS}}))
    with pytest.raises(SystemExit, match="records no n_train; give it as --set's third word"):
        main(["--set", "a", str(old)])
    old.write_text(json.dumps({"runs": {h: {"n_train": 9} for h in HEADS}}))
    with pytest.raises(SystemExit, match=r"old.json: 'bands'"):
        main(["--set", "a", str(old)])

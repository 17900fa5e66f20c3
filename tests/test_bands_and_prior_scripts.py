"""benchmarks/label_bands.py and prior_adjustment.py on real bibtex models trained here."""

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
def models(tmp_path_factory, data_dir):
    """Two heads trained on 600 bibtex items: (their run directories' parent, train part)."""
    root = tmp_path_factory.mktemp("models")
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(600))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(200))
    for head in HEADS:
        cfg = TrainConfig(head=head, n_components=16, hidden=(32,), epochs=2, batch_size=64)
        train(cfg, tr, va, root / head, progress=False)
    return root, tr


def test_bands_score_the_test_split_with_each_model(tmp_path, data_dir, models):
    root, tr = models
    script = runpy.run_path(str(ROOT / "benchmarks" / "label_bands.py"))
    out = tmp_path / "bands.json"
    args = ["bibtex", "--data-dir", str(data_dir), "--edges", "0,10,30", "--json", str(out)]
    for head in HEADS:
        args += ["--run", head, str(root / head / "model")]
    assert script["main"]([*args, "--png", str(tmp_path / "bands.png")]) == 0
    rows = json.loads(out.read_text())["bands"]
    counts = np.asarray(tr.Y.sum(axis=0)).ravel()
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    for head, rs in rows.items():
        # The bands come from the model's own training counts (600 items), not the full train.
        assert [r["n_labels"] for r in rs] == [
            int(((counts >= lo) & (counts < hi)).sum()) for lo, hi in ((0, 10), (10, 30), (30, 1e9))
        ]
        # Over all bands, R@5 weighted by the bands' shares is the micro recall of the top 5.
        scores, _ = Predictor.load(root / head / "model").scores(test.X)
        ranked, _ = topk(scores, 5)
        Y = test.Y.toarray()
        hits = np.take_along_axis(Y, ranked, axis=1).sum()
        assert sum(r["positives_share"] * r["R@5"] for r in rs) == pytest.approx(hits / Y.sum())
    table = out.with_suffix(".md").read_text().splitlines()
    assert table[2].startswith("| 0-9 | ") and "(×)" in table[0]
    assert (tmp_path / "bands.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="--edges: expected comma-separated integers"):
        script["main"](["bibtex", "--edges", "5,x", "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match="--dataset-option: expected KEY=VALUE, got 'oops'"):
        script["main"](["bibtex", "--dataset-option", "oops", "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"label_bands: .*model.json: file not found"):
        script["main"](["bibtex", "--data-dir", str(data_dir), "--run", "a", str(tmp_path)])


def test_prior_adjustment_reproduces_the_model_at_zero_and_picks_on_validation(
    tmp_path, data_dir, models
):
    root, _ = models
    script = runpy.run_path(str(ROOT / "benchmarks" / "prior_adjustment.py"))
    out = tmp_path / "prior.json"
    args = ["bibtex", "--data-dir", str(data_dir), "--taus", "0,0.3,1", "--json", str(out)]
    for head in HEADS:
        args += ["--run", head, str(root / head / "model")]
    assert script["main"](args) == 0
    runs = json.loads(out.read_text())["runs"]
    test = load_dataset("bibtex", split="test", data_dir=data_dir)
    for head, r in runs.items():
        want = Predictor.load(root / head / "model").evaluate(test)
        assert r["test"][0]["MAP@100"] == pytest.approx(want["MAP@100"])  # tau 0: the model
        assert r["test"][0]["PSP@5"] == pytest.approx(want["PSP@5"])
        val = [row["MAP@100"] for row in r["val"]]
        assert r["picked_tau"] == r["taus"][val.index(max(val))]
        assert len({row["P@1"] for row in r["test"]}) > 1  # tau changes the ranking
    assert "**" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit, match="--taus: expected comma-separated numbers"):
        script["main"](["bibtex", "--taus", "0,x", "--run", "a", str(tmp_path)])

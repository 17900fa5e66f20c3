"""benchmarks/label_bands.py on real bibtex models: bands from the saved train counts, test pairs."""

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


def test_bands_score_the_test_split_with_each_model(tmp_path, data_dir):
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(600))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(200))
    for head in ("sigmoid-prior", "embedding-scale-cap"):
        cfg = TrainConfig(head=head, n_components=16, hidden=(32,), epochs=2, batch_size=64)
        train(cfg, tr, va, tmp_path / head, progress=False)
    script = runpy.run_path(str(ROOT / "benchmarks" / "label_bands.py"))
    out = tmp_path / "bands.json"
    args = ["bibtex", "--data-dir", str(data_dir), "--edges", "0,10,30", "--json", str(out)]
    for head in ("sigmoid-prior", "embedding-scale-cap"):
        args += ["--run", head, str(tmp_path / head / "model")]
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
        scores, _ = Predictor.load(tmp_path / head / "model").scores(test.X)
        ranked, _ = topk(scores, 5)
        Y = test.Y.toarray()
        hits = np.take_along_axis(Y, ranked, axis=1).sum()
        assert sum(r["positives_share"] * r["R@5"] for r in rs) == pytest.approx(hits / Y.sum())
    table = out.with_suffix(".md").read_text().splitlines()
    assert table[2].startswith("| 0-9 | ") and "(×)" in table[0]
    assert (tmp_path / "bands.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="--edges: expected comma-separated integers"):
        script["main"](["bibtex", "--edges", "5,x", "--run", "a", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"label_bands: .*model.json: file not found"):
        script["main"](["bibtex", "--data-dir", str(data_dir), "--run", "a", str(tmp_path)])

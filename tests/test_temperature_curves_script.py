"""benchmarks/temperature_curves.py on real runs: each evaluation's scale and MAP@100, and one line for a run without."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from labelsphere.data import load_dataset
from labelsphere.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def test_curves_read_each_evaluation_and_refuse_runs_without_a_scale(tmp_path, data_dir):
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(512))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(200))
    for head in ("embedding-scale-cap", "sigmoid-prior"):
        cfg = TrainConfig(head=head, n_components=16, hidden=(32,), epochs=2, batch_size=64)
        train(cfg, tr, va, tmp_path / head, progress=False)
    script = runpy.run_path(str(ROOT / "benchmarks" / "temperature_curves.py"))
    out = tmp_path / "t.json"
    script["main"](["--run", "cap", str(tmp_path / "embedding-scale-cap"), "--json", str(out)])
    history = [
        json.loads(line)
        for line in (tmp_path / "embedding-scale-cap" / "metrics.jsonl").read_text().splitlines()
    ]
    curve = json.loads(out.read_text())["curves"]["cap"]
    assert curve["epoch"] == [1.0, 2.0]
    assert curve["scale"] == [h["head"]["scale"] for h in history]
    assert curve["MAP@100"] == [h["MAP@100"] for h in history]
    first_row = out.with_suffix(".md").read_text().splitlines()[2]
    assert first_row.startswith(f"| 1 | {history[0]['MAP@100']:.4f} (")
    with pytest.raises(SystemExit, match=r"metrics.jsonl:1: expected JSON with .*'scale'"):
        script["main"](["--run", "sigmoid", str(tmp_path / "sigmoid-prior")])
    # Runs that evaluate at different epochs line up by epoch, not by position.
    table = script["markdown"](
        {"a": curve, "b": {"epoch": [2.0], "MAP@100": [0.5], "scale": [12.0]}}
    ).splitlines()
    assert table[2].endswith(" | — |") and table[3].endswith(" | 0.5000 (12.0) |")

"""benchmarks/run_budgets.py on real runs: the test value at each budget is that of the best validation record within it."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from labelsphere.data import load_dataset
from labelsphere.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def test_budgets_read_the_best_validation_record_within_each(tmp_path, data_dir):
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(1024))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(300))
    runs = {}
    for head in ("sigmoid-prior", "embedding-learned-prior"):
        cfg = TrainConfig(
            head=head, n_components=32, hidden=(64,), epochs=2, batch_size=64, eval_every=8
        )
        train(cfg, tr, va, tmp_path / head, progress=False, test_data=va)
        runs[head] = [tmp_path / head]
    script = runpy.run_path(str(ROOT / "benchmarks" / "run_budgets.py"))
    table = script["budget_table"](runs, "sigmoid-prior", [1, 2, 3])
    for head, (run,) in runs.items():
        history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert set(table[head]) == {"1", "2"}  # 3 epochs were never run
        for e in (1, 2):
            best = max((h for h in history if h["epoch"] <= e), key=lambda h: h["MAP@100"])
            assert table[head][str(e)]["test"]["MAP@100"] == pytest.approx(best["test"]["MAP@100"])
    text = script["markdown"](table, "sigmoid-prior", [1, 2, 3])
    ratio = (
        table["embedding-learned-prior"]["2"]["test"]["MAP@100"]
        / table["sigmoid-prior"]["2"]["test"]["MAP@100"]
    )
    assert f"({ratio:.3f}×)" in text and "| — |" in text
    with pytest.raises(SystemExit, match="not one of"):
        script["budget_table"](runs, "softmax", [1])


def test_a_broken_history_is_one_line_naming_the_file_and_line(tmp_path):
    script = runpy.run_path(str(ROOT / "benchmarks" / "run_budgets.py"))
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "MAP@100": 0.1}\n{"step": 3}\n')
    with pytest.raises(SystemExit, match=r"metrics.jsonl:2: an evaluation record needs"):
        script["budget_table"]({"a": [run]}, "a", [1])
    (run / "metrics.jsonl").write_text("{not json\n")
    with pytest.raises(SystemExit, match=r"metrics.jsonl:1: not JSON"):
        script["budget_table"]({"a": [run]}, "a", [1])

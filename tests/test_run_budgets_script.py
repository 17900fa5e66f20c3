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
    text = script["markdown"](table, "sigmoid-prior", [1, 2], ("mAP", "PSP@5"))
    assert "| mAP at 2 | PSP@5 at 2 |" in text
    assert f"| {table['sigmoid-prior']['2']['test']['PSP@5']:.4f} |" in text
    argv = ["--baseline", "sigmoid-prior", "--budgets", "1,2"]
    for head, (run,) in runs.items():
        argv += ["--run", head, str(run)]
    with pytest.raises(SystemExit, match="--metrics: no run records 'PSP5'"):
        script["main"]([*argv, "--metrics", "mAP,PSP5"])
    # A --pick row can be the baseline (a head tuned per budget, as the other heads are).
    out = tmp_path / "picked.json"
    picked = ["--pick", "tuned", *runs, "--json", str(out)]
    script["main"]([*argv[2:], "--baseline", "tuned", *picked])
    saved = json.loads(out.read_text())
    assert saved["baseline"] == "tuned" and set(saved["budgets"]["tuned"]) == {"1", "2"}
    with pytest.raises(SystemExit, match="--baseline 'tune' is not one of"):
        script["main"]([*argv[2:], "--baseline", "tune", *picked])


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


def test_merge_pools_an_earlier_jsons_seeds_with_new_runs(tmp_path, data_dir, capsys):
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(512))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(200))
    runs = []
    for seed in (0, 1):
        cfg = TrainConfig(
            head="sigmoid-prior", hidden=(32,), epochs=2, batch_size=64, eval_every=4, seed=seed
        )
        train(cfg, tr, va, tmp_path / f"seed={seed}", progress=False, test_data=va)
        runs.append(tmp_path / f"seed={seed}")
    script = runpy.run_path(str(ROOT / "benchmarks" / "run_budgets.py"))
    both = script["budget_table"]({"a": runs}, "a", [1, 2])
    # Seed 0 alone into a JSON (its run directory could then be gone), seed 1 merged into it.
    first = tmp_path / "first.json"
    argv = ["--baseline", "a", "--run", "a", str(runs[0]), "--budgets", "1,2", "--json", str(first)]
    assert script["main"](argv) == 0
    merged = script["merge_table"](
        script["budget_table"]({"a": [runs[1]]}, "a", [1, 2]), [("a", first, "a")]
    )
    for e in ("1", "2"):
        assert merged["a"][e]["n_seeds"] == 2
        assert merged["a"][e]["test"]["MAP@100"] == pytest.approx(both["a"][e]["test"]["MAP@100"])
        assert merged["a"][e]["per_seed"] == both["a"][e]["per_seed"]
    # A label only in the JSON is taken whole, under a new name, and can be the baseline.
    second = tmp_path / "second.json"
    argv = ["--baseline", "base", "--merge", "base", str(first), "a", "--run", "b", str(runs[1])]
    assert script["main"]([*argv, "--budgets", "1,2", "--json", str(second)]) == 0
    table = json.loads(second.read_text())["budgets"]
    assert table["base"]["2"]["per_seed"] == both["a"]["2"]["per_seed"][:1]
    assert table["b"]["2"]["per_seed"] == both["a"]["2"]["per_seed"][1:]
    with pytest.raises(SystemExit, match=r"first.json: has no label 'c'"):
        script["merge_table"]({}, [("a", first, "c")])
    earlier = json.loads(first.read_text())
    assert {entry["lr"] for entry in earlier["budgets"]["a"].values()} == {"0.001"}  # config.json's
    # A budget picked at another rate there is left out, with a line saying so; none left: an error.
    earlier["budgets"]["a"]["2"]["lr"] = "0.003"
    first.write_text(json.dumps(earlier))
    pooled = script["merge_table"](both, [("a", first, "a")])
    assert set(pooled["a"]) == {"1"} and pooled["a"]["1"]["n_seeds"] == 3
    assert (
        "'a' left out at budgets picked at other rates: 2 (0.003 there" in capsys.readouterr().err
    )
    earlier["budgets"]["a"]["1"]["lr"] = "0.0003"
    first.write_text(json.dumps(earlier))
    with pytest.raises(SystemExit, match=r"'a' shares no budget at one rate with the new runs"):
        script["merge_table"](both, [("a", first, "a")])
    earlier["budgets"]["a"]["1"]["lr"] = "one"  # written before rates were recorded: matches any
    first.write_text(json.dumps(earlier))
    assert script["merge_table"](both, [("a", first, "a")])["a"]["1"]["lr"] == "0.001"
    with pytest.raises(SystemExit):  # argparse: one line on stderr, exit 2
        script["main"](["--baseline", "a", "--merge", "a"])
    # A malformed earlier JSON is one line naming the file and the field, not a traceback.
    earlier["budgets"]["a"]["2"]["per_seed"][0]["test"]["MAP@100"] = "high"
    first.write_text(json.dumps(earlier))
    with pytest.raises(SystemExit, match=r"first.json: budgets.a.2.per_seed\[0\].test: every"):
        script["merge_table"](both, [("a", first, "a")])
    del earlier["budgets"]["a"]["1"]["per_seed"]
    first.write_text(json.dumps(earlier))
    with pytest.raises(SystemExit, match=r"first.json: budgets.a.1: expected an entry"):
        script["merge_table"](both, [("a", first, "a")])
    first.write_text("[1, 2]")
    with pytest.raises(SystemExit, match=r"first.json: not a run_budgets JSON or compare"):
        script["merge_table"](both, [("a", first, "a")])


def test_merge_reads_a_compare_reports_per_seed_picks(tmp_path, data_dir):
    """A committed compare results.json (end to end on iconify, seed 0) pools with new runs."""
    report = ROOT / "docs" / "results" / "iconify-e2e-20k-s12" / "results.json"
    there = json.loads(report.read_text())["heads"]["embedding-slow-scale"]["budget_test"]
    script = runpy.run_path(str(ROOT / "benchmarks" / "run_budgets.py"))
    whole = script["merge_table"]({}, [("slow", report, "embedding-slow-scale")])
    assert whole["slow"] == there and there["10"]["lr"] == "0.003" and there["1"]["lr"] == "0.001"
    tr = load_dataset("bibtex", split="train", data_dir=data_dir).subset(np.arange(512))
    va = load_dataset("bibtex", split="test", data_dir=data_dir).subset(np.arange(200))
    cfg = TrainConfig(head="sigmoid-prior", hidden=(32,), epochs=2, batch_size=64, lr=1e-3)
    train(cfg, tr, va, tmp_path / "run", progress=False, test_data=va)
    new = script["budget_table"]({"slow": [tmp_path / "run"]}, "slow", [1, 2, 10])
    pooled = script["merge_table"](new, [("slow", report, "embedding-slow-scale")])["slow"]
    assert set(pooled) == {"1", "2"}  # 10 epochs: the new run stops at 2
    for e in ("1", "2"):
        assert pooled[e]["lr"] == "0.001" and pooled[e]["n_seeds"] == 2
        assert pooled[e]["per_seed"] == [*there[e]["per_seed"], *new["slow"][e]["per_seed"]]
    with pytest.raises(SystemExit, match=r"results.json: has no head 'softmax' under 'heads'"):
        script["merge_table"]({}, [("x", report, "softmax")])


def test_pick_retunes_the_rate_per_budget_on_the_first_seeds_validation():
    """The full iconify set's slow head at two rates (3 seeds each, committed): the rate seed 0
    validated best is 1e-3 up to 3 epochs and 3e-4 from 5, as paper_regime.md reads it."""
    report = ROOT / "docs" / "results" / "iconify-frozen-full-s14" / "budgets.json"
    script = runpy.run_path(str(ROOT / "benchmarks" / "run_budgets.py"))
    labels = ["embedding-slow-scale (1e-3)", "embedding-slow-scale (3e-4)"]
    table = script["merge_table"]({}, [(label, report, label) for label in labels])
    picked = script["pick_table"](table, [["tuned", *labels]])["tuned"]
    assert list(picked) == ["1", "2", "3", "5", "10"]
    for e, label in zip(picked, [labels[0]] * 3 + [labels[1]] * 2, strict=True):
        assert picked[e] == table[label][e]
        other = table[labels[label == labels[0]]][e]
        assert picked[e]["per_seed"][0]["val"] > other["per_seed"][0]["val"]
    ratios = [
        picked[e]["test"]["MAP@100"]
        / json.loads(report.read_text())["budgets"]["sigmoid-prior (1e-3)"][e]["test"]["MAP@100"]
        for e in picked
    ]
    assert [f"{r:.3f}" for r in ratios] == ["1.051", "1.041", "1.029", "1.026", "1.052"]
    with pytest.raises(SystemExit, match=r"--pick 'tuned': no label 'x'"):
        script["pick_table"](table, [["tuned", labels[0], "x"]])

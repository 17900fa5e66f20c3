"""benchmarks/paper_regime.py on the committed full-set results: one point per dataset and size."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
V = "embedding-learned[n_components=512,bias=true,prior_bias=true]"


def _script():
    spec = importlib.util.spec_from_file_location(
        "paper_regime", ROOT / "benchmarks" / "paper_regime.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_longer_comparison_of_the_same_data_adds_its_largest_budget():
    script = _script()
    three = script.summarize(ROOT / "docs" / "results" / "iconify-frozen-full-3s")
    ten = script.summarize(ROOT / "docs" / "results" / "iconify-frozen-full-10ep")
    # The 10-epoch comparison names the head with its fixed rate: one head, two spec names.
    head = f"{V};{V[:-1]},lr=0.0003]"
    pts = [p for p in script.scaling_points([three, ten], head) if p["n_train"] == 260706]
    assert len(pts) == 1
    (p,) = pts
    want_ten = next(r for r in ten["rows"] if r["head"] != ten["baseline"])["ratio"]
    want_one = next(r for r in three["rows"] if r["head"] == V)["budgets"]["1"]["ratio"]
    assert p["epochs"] == 10 and p["ratio"] == pytest.approx(want_ten)
    assert p["ratio_1_epoch"] == pytest.approx(want_one)  # from the 3-seed comparison
    assert 1.0 < p["ratio_1_epoch"] and p["ratio"] < 1.0  # ahead early, level at 10 epochs
    # Listed the other way round, the 10-epoch comparison gives the budgets it has.
    (q,) = [p for p in script.scaling_points([ten, three], head) if p["n_train"] == 260706]
    assert q["epochs"] == 10 and q["ratio_1_epoch"] != pytest.approx(want_one)


def test_nested_subset_sweeps_are_divided_by_their_own_baseline():
    pts = _script().scaling_points([], "embedding-learned-prior")
    bib = sorted((p for p in pts if p["source"] == "bibtex subsets"), key=lambda p: p["n_train"])
    assert [p["n_train"] for p in bib] == [439, 1098, 2196, 4392]
    assert {p["baseline"] for p in bib} == {"sigmoid-prior"}
    assert all(0.9 < p["ratio"] < 1.05 for p in bib)


def test_a_run_budgets_json_gives_a_point_at_its_largest_budget(tmp_path):
    script = _script()
    path = ROOT / "docs" / "results" / "iconify-frozen-full-s14" / "budgets.json"
    label, base = "embedding-slow-scale, rate per budget", "sigmoid-prior (1e-3)"
    p = script.budgets_point(path, label, base, 260706, "iconify-icons (frozen)")
    assert p["epochs"] == 10 and p["n_train"] == 260706 and p["baseline"] == base
    assert [f"{p[k]:.3f}" for k in ("ratio_1_epoch", "ratio_3_epochs", "ratio_5_epochs")] == [
        "1.051",
        "1.029",
        "1.026",
    ]
    assert f"{p['ratio']:.3f}" == "1.052"
    with pytest.raises(SystemExit, match=r"budgets.json: no budgets for 'softmax'"):
        script.budgets_point(path, "softmax", base, 1, "x")
    png = tmp_path / "scaling.png"
    argv = ["--budgets-json", str(path), label, base, "260706", "iconify-icons (frozen)"]
    md = tmp_path / "scaling.md"
    assert script.main([*argv, "--png", str(png), "--md", str(md)]) == 0
    assert png.stat().st_size > 0
    row = "| iconify-icons (frozen) | 260,706 | sigmoid-prior (1e-3) | 1.051 | 1.029 | 1.026 | 1.052 (10 ep) |"
    assert row in md.read_text().splitlines()
    with pytest.raises(SystemExit):  # argparse: N_TRAIN must be a count
        script.main(["--budgets-json", str(path), label, base, "many", "x"])

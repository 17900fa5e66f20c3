"""compare and the CLI, end to end on real data with tiny budgets."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from labelsphere.cli import app
from labelsphere.compare import compare, parse_head_spec, run_dir_for
from labelsphere.data import train_val_test
from labelsphere.train import TrainConfig

runner = CliRunner()


@pytest.fixture(scope="module")
def bibtex_small(data_dir):
    tr, va, te = train_val_test("bibtex", data_dir)
    return tr.subset(np.arange(1024)), va.subset(np.arange(300)), te.subset(np.arange(400))


def test_parse_head_spec():
    s = parse_head_spec("embedding[loss=softmax,bias=true,lr=0.01,pmi=positive,hidden=[64]]")
    assert s.head == "embedding"
    assert s.head_options == {"loss": "softmax", "bias": True}
    assert s.overrides == {"lr": 0.01, "hidden": (64,)}
    assert s.embedding_options == {"pmi": "positive"}
    cfg = s.config(TrainConfig())
    assert cfg.lr == 0.01 and cfg.hidden == (64,) and cfg.head_options["loss"] == "softmax"
    with pytest.raises(ValueError, match="unknown head"):
        parse_head_spec("svm")
    with pytest.raises(ValueError, match="key=value"):
        parse_head_spec("embedding[softmax]")


_BASE = TrainConfig(hidden=(64,), n_components=32, epochs=2, batch_size=64, eval_every=8)


def test_named_head_trains_exactly_as_its_long_spec(bibtex_small, tmp_path):
    from dataclasses import replace

    from labelsphere.train import train

    base = replace(_BASE, n_components=None, max_steps=12)  # None: each head's own d
    named = parse_head_spec("embedding-learned-prior").config(base)
    spelled = "embedding-learned[n_components=512,bias=true,prior_bias=true]"
    long = parse_head_spec(spelled).config(base)
    assert (named.n_components, long.n_components) == (None, 512)
    tr, va, _ = bibtex_small
    best = {c.head: train(c, tr, va, tmp_path / c.head, progress=False).best for c in (named, long)}
    # The same network, embedding (d = min(512, L - 1)), bias start and seed: the same numbers.
    assert best["embedding-learned-prior"]["MAP@100"] == best["embedding-learned"]["MAP@100"]


def test_every_entry_point_defaults_to_the_same_head_and_baseline():
    import inspect

    from labelsphere.compare import compare_dataset
    from labelsphere.heads import DEFAULT_HEAD
    from labelsphere.train import train_dataset

    # The head that won where measured (docs/paper_regime.md) against the fair baseline.
    assert DEFAULT_HEAD == "embedding-scale-cap" == TrainConfig().head
    assert inspect.signature(train_dataset).parameters["head"].default == DEFAULT_HEAD
    params = inspect.signature(compare_dataset).parameters
    assert params["heads"].default == (DEFAULT_HEAD, "sigmoid-prior")
    assert params["baseline"].default == "sigmoid-prior"
    assert inspect.signature(compare).parameters["baseline"].default == "sigmoid-prior"
    for command in ("train", "compare"):
        r = runner.invoke(app, [command, "--help"], env={"COLUMNS": "400"})
        assert r.exit_code == 0 and DEFAULT_HEAD in r.output and "sigmoid-prior" in r.output


def test_a_head_name_sets_its_own_d_unless_the_run_does(data_dir):
    from labelsphere.data import load_dataset
    from labelsphere.heads import label_basis

    Y = load_dataset("delicious", "train", data_dir).Y  # 983 labels: d is not capped
    assert label_basis("embedding-learned-prior", Y, None, seed=0).shape == (983, 512)
    assert label_basis("embedding", Y, None, seed=0).shape == (983, 256)
    assert label_basis("embedding-learned-prior", Y, 64, seed=0).shape == (983, 64)
    assert TrainConfig().n_components is None
    with pytest.raises(ValueError, match="n_components must be an integer >= 1"):
        TrainConfig(n_components=0)


def _short_compare(out, data, **kw):
    tr, va, te = data
    kw = {"n_seeds": 2, "lrs": (1e-3, 3e-3), "progress": False, "extend_grid": 0, **kw}
    return compare("bibtex", tr, va, te, ["embedding"], _BASE, out, **kw)


@pytest.fixture(scope="module")
def short_compare(tmp_path_factory, bibtex_small):
    out = tmp_path_factory.mktemp("compare")
    return out, _short_compare(out, bibtex_small)


def test_compare_tunes_and_seeds_every_head_with_the_baseline(short_compare):
    _, summary = short_compare
    assert set(summary["heads"]) == {"embedding", "sigmoid-prior"}  # the baseline: always added
    for res in summary["heads"].values():
        assert res["lr"] in (1e-3, 3e-3) and len(res["runs"]) == 2
        assert set(res["lr_search"]) == {"0.001", "0.003"}
        for r in res["runs"]:
            assert 0 < r["test"]["MAP@100"] <= 1 and "PSP@5" in r["test"]
            assert r["to_baseline_best"]["target"] > 0
    # 2 heads x (2 learning rates + 1 more seed) runs, each timed by itself.
    assert summary["n_runs"] == 6
    seconds = [r["seconds"] for res in summary["heads"].values() for r in res["runs"]]
    assert summary["run_seconds"] > sum(seconds) > 0  # plus the search run not kept


def test_compare_writes_report_and_both_plots(short_compare):
    out, _ = short_compare
    report = (out / "report.md").read_text()
    assert "| embedding |" in report and "| sigmoid-prior |" in report and "SLEEC" in report
    # extend_grid=0: the report says no rate was added (it once claimed some were, always).
    assert "The given grid: 0.001, 0.003. No rate was added beyond it." in report
    for png in ("curves_steps.png", "curves_time.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_reads_shorter_budgets_off_the_search_runs(short_compare):
    out, summary = short_compare
    # At the full budget the best value is the search's best, and the report shows the ratios.
    for res in summary["heads"].values():
        assert set(res["budgets"]) == {"1", "2"}
        assert res["budgets"]["2"]["value"] == pytest.approx(max(res["lr_search"].values()))
        assert res["budgets"]["1"]["value"] <= res["budgets"]["2"]["value"]
    assert "## Shorter budgets" in (out / "report.md").read_text()


def test_compare_reports_the_output_layer_size(short_compare, bibtex_small):
    out, summary = short_compare
    # sigmoid(-prior) is L x H + L; the embedding head d x H + d + a scale, its L x d E fixed.
    L, H, d = bibtex_small[0].Y.shape[1], 64, 32
    sig = summary["heads"]["sigmoid-prior"]["runs"][0]
    emb = summary["heads"]["embedding"]["runs"][0]
    assert (sig["head_parameters"], sig["head_fixed"]) == (L * H + L, 0)
    assert (emb["head_parameters"], emb["head_fixed"]) == (d * H + d + 1, L * d)
    assert f"{L * H + L:,d} / 0" in (out / "report.md").read_text()


def test_compare_reuses_finished_runs_through_rundir(tmp_path, bibtex_small):
    # Finished runs are reused: a second call trains nothing and gives the same numbers, also
    # for a run saved before a TrainConfig field existed (RunDir reads saved configs through
    # from_json, which fills the default).
    summary = _short_compare(tmp_path, bibtex_small)
    run = run_dir_for(tmp_path, "embedding", summary["heads"]["embedding"]["lr"], 1)
    cfg = json.loads(run.config_path.read_text())
    del cfg["input_dropout"]
    run.config_path.write_text(json.dumps(cfg))
    weights = run.model_dir / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    again = _short_compare(tmp_path, bibtex_small)
    assert (
        again["heads"]["embedding"]["runs"][1]["test"]
        == summary["heads"]["embedding"]["runs"][1]["test"]
    )
    assert weights.stat().st_mtime_ns == stamp


def test_a_longer_budget_continues_the_finished_runs(tmp_path, bibtex_small):
    # --epochs 2 over a directory of 1-epoch runs trains only the second epoch, and reports
    # what a fresh 2-epoch comparison reports.
    tr, va, te = bibtex_small
    kw = {"n_seeds": 1, "lrs": (1e-3,), "progress": False, "extend_grid": 0}
    one, two = dataclasses.replace(_BASE, epochs=1), dataclasses.replace(_BASE, epochs=2)
    compare("bibtex", tr, va, te, ["sigmoid-prior"], one, tmp_path / "a", **kw)
    metrics = run_dir_for(tmp_path / "a", "sigmoid-prior", 1e-3, 0).metrics_path
    first = metrics.read_text()
    continued = compare("bibtex", tr, va, te, ["sigmoid-prior"], two, tmp_path / "a", **kw)
    # Continued, not retrained: the first epoch's records (with their seconds) are untouched.
    assert metrics.read_text().startswith(first) and len(metrics.read_text()) > len(first)
    fresh = compare("bibtex", tr, va, te, ["sigmoid-prior"], two, tmp_path / "b", **kw)
    got, want = continued["heads"]["sigmoid-prior"], fresh["heads"]["sigmoid-prior"]
    assert got["runs"][0]["steps"] == want["runs"][0]["steps"]
    for k, v in want["runs"][0]["test"].items():
        assert got["runs"][0]["test"][k] == pytest.approx(v, rel=1e-5), k


def test_no_budget_table_without_a_constant_schedule(tmp_path, bibtex_small):
    # With a decaying schedule the first epochs of a run are not a shorter run: no budgets.
    tr, va, te = bibtex_small
    base = TrainConfig(
        hidden=(32,), epochs=2, batch_size=128, schedule="cosine", warmup=0.1, eval_every=4
    )
    summary = compare(
        "bibtex", tr, va, te, ["sigmoid"], base, tmp_path, n_seeds=1, lrs=(1e-3,), progress=False
    )
    assert "budgets" not in summary["heads"]["sigmoid"]
    assert "Shorter budgets" not in (tmp_path / "report.md").read_text()


def test_cli_report_train_predict_evaluate(tmp_path, data_dir):
    r = runner.invoke(
        app,
        [
            "report",
            "corel5k",
            "--data-dir",
            str(data_dir),
            "-d",
            "64",
            "--out",
            str(tmp_path / "rep"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "Oracle test" in r.output and (tmp_path / "rep" / "spectrum.png").is_file()
    assert (tmp_path / "rep" / "label_map.png").stat().st_size > 10_000
    # The explorer reads a saved label embedding as well as a model.
    r = runner.invoke(app, ["similar", str(tmp_path / "rep" / "embedding"), "sky", "-k", "3"])
    assert r.exit_code == 0 and len(r.output.splitlines()) == 3, r.output
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "train",
            "corel5k",
            "--data-dir",
            str(data_dir),
            "--out",
            str(run),
            "--epochs",
            "1",
            "--hidden",
            "64",
            "-d",
            "32",
            "--threads",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "MAP@100" in r.output and (run / "model" / "model.safetensors").is_file()
    metrics = json.loads((run / "test_metrics.json").read_text())
    r = runner.invoke(
        app, ["evaluate", str(run / "model"), "corel5k", "--data-dir", str(data_dir), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == pytest.approx(metrics)  # one evaluation, PSP@k included
    assert "PSP@5" in metrics
    # evaluate draws validation as train did, and says so when the draw is impossible.
    ev = ["evaluate", str(run / "model"), "corel5k", "--data-dir", str(data_dir), "--split", "val"]
    r = runner.invoke(app, [*ev, "--val-split", "grouped"])
    assert r.exit_code == 2 and "corel5k/train has no groups" in r.output
    from labelsphere.data import load_dataset

    rows = load_dataset("corel5k", "test", data_dir).X[:3]
    np.save(tmp_path / "rows.npy", rows.toarray())
    r = runner.invoke(
        app, ["predict", str(run / "model"), str(tmp_path / "rows.npy"), "-k", "3", "--json"]
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    vocab = load_dataset("corel5k", "test", data_dir).vocabulary
    assert len(lines) == 3 and all(
        len(x["labels"]) == 3 and all(lab["label"] in vocab for lab in x["labels"]) for x in lines
    )


def test_cli_errors_are_clear(tmp_path, data_dir):
    r = runner.invoke(app, ["train", "nope", "--data-dir", str(data_dir)])
    assert r.exit_code == 2 and "unknown dataset" in r.output
    r = runner.invoke(
        app, ["train", "bibtex", "--head", "embedding[oops]", "--data-dir", str(data_dir)]
    )
    assert r.exit_code == 2 and "key=value" in r.output
    r = runner.invoke(
        app, ["train", "bibtex", "--dataset-option", "=1", "--data-dir", str(data_dir)]
    )
    assert r.exit_code == 2 and "--dataset-option: expected KEY=VALUE, got '=1'" in r.output
    for choice, message in (("groups", "val_split must be one of"), ("grouped", "no groups")):
        r = runner.invoke(
            app, ["train", "bibtex", "--val-split", choice, "--data-dir", str(data_dir)]
        )
        assert r.exit_code == 2 and message in r.output
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    r = runner.invoke(app, ["predict", str(tmp_path), str(tmp_path / "bad.npy")])
    assert r.exit_code == 2 and "model.json" in r.output
    r = runner.invoke(app, ["compare", "--help"])
    assert r.exit_code == 0 and "--seeds" in r.output and "--lrs" in r.output


def test_label_map_rejects_mismatched_inputs(tmp_path):
    from labelsphere.plots import plot_label_map

    with pytest.raises(ValueError, match="L names"):
        plot_label_map(np.ones((4, 2)), ["a", "b"], np.ones(4), tmp_path / "m.png")
    with pytest.raises(ValueError, match="at least 3"):
        plot_label_map(np.zeros((4, 2)), list("abcd"), np.ones(4), tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


def test_compare_extends_the_grid_at_its_edge_and_tests_every_budget(tmp_path, bibtex_small):
    # Rates far too low for 2 epochs: every head's best is at the top of the grid, so the grid
    # grows upwards (by the grid's own ratio); the baseline is the prior-bias sigmoid head.
    tr, va, te = bibtex_small
    summary = compare(
        "bibtex",
        tr,
        va,
        te,
        ["embedding"],
        _BASE,
        tmp_path,
        n_seeds=2,
        lrs=(1e-5, 3e-5),
        progress=False,
        baseline="sigmoid-prior",
        extend_grid=1,
        budget_seeds=True,
    )
    assert summary["baseline"] == "sigmoid-prior" and set(summary["heads"]) == {
        "embedding",
        "sigmoid-prior",
    }
    for res in summary["heads"].values():
        assert res["lr_extended"] == ["9e-05"] and set(res["lr_search"]) == {
            "1e-05",
            "3e-05",
            "9e-05",
        }
        assert res["lr"] == 9e-05  # the extension won: the rates were too low
        for e, bt in res["budget_test"].items():
            assert bt["lr"] == res["budgets"][e]["lr"] and bt["n_seeds"] == 2
            # Seed 0's chosen record is the budget's validation best; its test metrics are
            # the ones recorded at that evaluation.
            assert bt["per_seed"][0]["val"] == pytest.approx(res["budgets"][e]["value"])
            assert bt["test"]["MAP@100"] == pytest.approx(
                np.mean([s["test"]["MAP@100"] for s in bt["per_seed"]])
            )
    report = (tmp_path / "report.md").read_text()
    assert "## Test MAP@100 at each budget" in report and "9e-05" in report
    assert "Added beyond it (9e-05)" in report


def test_seed_lanes_train_apart_and_the_report_reuses_them(tmp_path, bibtex_small):
    # Two seeds trained by separate only_seed calls (as parallel processes would), then one
    # call without it: it trains nothing and reports what a single call reports.
    tr, va, te = bibtex_small
    kw = {"lrs": (1e-3,), "progress": False, "extend_grid": 0}
    heads = ["sigmoid-prior"]
    lane = compare("bibtex", tr, va, te, heads, _BASE, tmp_path / "a", n_seeds=2, only_seed=1, **kw)
    assert lane == {
        "only_seed": 1,
        "run_dirs": [str(run_dir_for(tmp_path / "a", heads[0], 1e-3, 1).path)],
    }
    assert not (tmp_path / "a" / "report.md").exists()
    assert not run_dir_for(tmp_path / "a", heads[0], 1e-3, 0).path.exists()
    compare("bibtex", tr, va, te, heads, _BASE, tmp_path / "a", n_seeds=2, only_seed=0, **kw)
    weights = [
        run_dir_for(tmp_path / "a", heads[0], 1e-3, s).model_dir / "model.safetensors"
        for s in (0, 1)
    ]
    stamps = [w.stat().st_mtime_ns for w in weights]
    merged = compare("bibtex", tr, va, te, heads, _BASE, tmp_path / "a", n_seeds=2, **kw)
    assert [w.stat().st_mtime_ns for w in weights] == stamps
    single = compare("bibtex", tr, va, te, heads, _BASE, tmp_path / "b", n_seeds=2, **kw)
    pairs = zip(merged["heads"][heads[0]]["runs"], single["heads"][heads[0]]["runs"], strict=True)
    for got, want in pairs:
        assert got["test"] == pytest.approx(want["test"], rel=1e-5)


def test_a_seed_lane_over_a_grid_needs_the_seed0_search(tmp_path, bibtex_small, data_dir):
    tr, va, te = bibtex_small
    kw = {"lrs": (1e-3, 3e-3), "progress": False, "extend_grid": 0, "n_seeds": 2}
    with pytest.raises(ValueError, match=r"seed-0 search run .*lr=0\.001/seed=0"):
        compare("bibtex", tr, va, te, ["sigmoid-prior"], _BASE, tmp_path, only_seed=1, **kw)
    with pytest.raises(ValueError, match=r"only_seed must be in 0\.\.1"):
        compare("bibtex", tr, va, te, ["sigmoid-prior"], _BASE, tmp_path, only_seed=2, **kw)
    # On the command line: one line naming the option, a non-zero exit, nothing written.
    cli = ["compare", "--lrs", "1e-3", "--seeds", "2", "--only-seed", "2", "--epochs", "1"]
    r = runner.invoke(app, [*cli, "--out", str(tmp_path / "c"), "--data-dir", str(data_dir)])
    assert r.exit_code != 0 and "only_seed must be in 0..1" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "c" / "runs").exists()

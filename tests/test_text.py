"""Text items and TextFeaturizer on real data: tabler-icons' names and categories -> their tags.

None of the shared sets has free prose (debian-depends has package names and dependencies only;
iconify-icons has name words); the closest to text is each tabler icon's human-given name plus
its category ("arrow-left-circle" in "Arrows" -> "arrow left circle Arrows"), with the icon's
tags (used by at least 5 icons, the loader's default) as labels.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelsphere.data import load_dataset, read_items, write_items
from labelsphere.text import TextFeaturizer


def _icon_texts(ds) -> list[str]:
    return [
        f"{name.replace('-', ' ')} {category}"
        for name, category in zip(ds.ids, ds.info["categories"], strict=True)
    ]


@pytest.fixture(scope="module")
def tabler(data_dir):
    return {
        split: load_dataset("tabler-icons", split=split, data_dir=data_dir)
        for split in ("train", "test")
    }


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_tabler_text_items_featurize_save_load(tmp_path, tabler, suffix):
    train, test = tabler["train"], tabler["test"]
    paths = {}
    for split, ds in tabler.items():
        paths[split] = tmp_path / f"{split}{suffix}"
        write_items(paths[split], _icon_texts(ds), ds.labels(), text=True)
    tr = read_items(paths["train"], vocabulary=train.vocabulary)
    te = read_items(paths["test"], vocabulary=train.vocabulary)
    assert tr.info["input_kind"] == te.info["input_kind"] == "text"
    assert tr.X == _icon_texts(train) and te.X == _icon_texts(test)
    assert (tr.Y != train.Y).nnz == 0 and (te.Y != test.Y).nnz == 0
    # Without a vocabulary one is built from the file: the same tag sets.
    own = read_items(paths["train"])
    assert [set(ls) for ls in own.labels()] == [set(ls) for ls in train.labels()]

    for params in ({"ngram_range": (1, 2), "min_df": 2}, {"kind": "hashing", "n_features": 2**14}):
        f = TextFeaturizer(**params)
        X_train = f.fit_transform(tr.X)
        assert X_train.shape == (len(tr), f.n_features_) and X_train.dtype == np.float32
        assert np.diff(X_train.indptr).min() >= 1  # every icon name has a token
        out = tmp_path / f"featurizer-{params.get('kind', 'tfidf')}"
        f.save(out)
        g = TextFeaturizer.load(out)
        for X in (tr.X, te.X):
            A, B = f.transform(X), g.transform(X)
            assert np.array_equal(A.indptr, B.indptr)
            assert np.array_equal(A.indices, B.indices)
            assert np.array_equal(A.data, B.data)
        # Nearest train icon by cosine on the features shares a tag with most test icons.
        Xte = g.transform(te.X)
        nearest = np.asarray((Xte @ X_train.T).argmax(axis=1)).ravel()
        shared = np.asarray(te.Y.multiply(tr.Y[nearest]).sum(axis=1)).ravel() > 0
        assert shared.mean() > 0.5, shared.mean()


def test_train_predict_evaluate_on_a_text_items_file(tmp_path, tabler, data_dir):
    """`labelsphere train` on raw text: TF-IDF fitted on the train part and saved with the
    model; `predict --text` and `evaluate` on the items file go from raw text to labels."""
    import json

    from typer.testing import CliRunner

    from labelsphere.cli import app

    ds = tabler["train"]
    items = tmp_path / "icons.csv"
    write_items(items, _icon_texts(ds), ds.labels(), text=True)
    run = tmp_path / "run"
    runner = CliRunner()
    args = ["train", str(items), "--out", str(run), "--epochs", "5", "--hidden", "128"]
    r = runner.invoke(app, [*args, "-d", "32", "--threads", "1", "--lr", "3e-3"])
    assert r.exit_code == 0, r.output
    assert (run / "model" / "text" / "text_featurizer.json").is_file()
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert metrics["P@1"] > 0.3  # names predict their tags far above chance
    r = runner.invoke(
        app, ["predict", str(run / "model"), "--text", "arrow left circle Arrows", "--json"]
    )
    assert r.exit_code == 0, r.output
    labels = [x["label"] for x in json.loads(r.output)["labels"]]
    assert any("arrow" in x or "circ" in x for x in labels), labels
    r = runner.invoke(app, ["evaluate", str(run / "model"), str(items), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == pytest.approx(metrics)
    r = runner.invoke(app, ["predict", str(run / "model"), str(items)])
    assert r.exit_code == 2  # a text model does not take files


def test_own_test_file_and_keys(tmp_path, tabler):
    """Items with other key names and a test file of the user's own (train, evaluate)."""
    import json

    from typer.testing import CliRunner

    from labelsphere.cli import app

    train, test = tabler["train"], tabler["test"]
    for ds, name in ((train, "train.jsonl"), (test, "mine.jsonl")):
        with open(tmp_path / name, "w") as f:
            for text, labels in zip(_icon_texts(ds), ds.labels(), strict=True):
                f.write(json.dumps({"text": text, "tags": labels}) + "\n")
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["train", str(tmp_path / "train.jsonl"), "--labels-key", "tags", "--test-file"]
    args += [str(tmp_path / "mine.jsonl"), "--out", str(run), "--epochs", "2", "--hidden", "64"]
    r = runner.invoke(app, [*args, "-d", "16", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "mine.jsonl" in r.output  # the test split is the given file
    metrics = json.loads((run / "test_metrics.json").read_text())
    mine = str(tmp_path / "mine.jsonl")
    r = runner.invoke(app, ["evaluate", str(run / "model"), mine, "--split", "all", "--json"])
    assert r.exit_code == 2 and "labels" in r.output  # the key is 'tags': named in the error
    args = ["evaluate", str(run / "model"), mine, "--split", "all", "--labels-key", "tags"]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == pytest.approx(metrics)  # the given file is the test split

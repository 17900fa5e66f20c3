"""The README's Python quickstart runs as written (against the real data)."""

from __future__ import annotations

import re

import pytest
from conftest import REPO


def _python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quickstart: Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_python_quickstart_runs(tmp_path, data_dir, monkeypatch, capsys):
    blocks = _python_blocks()
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)  # the examples write into runs/
    namespace: dict = {}
    for code in blocks:
        exec(
            compile(code.replace('"../shared/data"', repr(str(data_dir))), "README.md", "exec"),
            namespace,
        )
    out = capsys.readouterr().out.splitlines()
    assert float(out[0]) == pytest.approx(0.838, abs=0.01)  # the oracle MAP@100 quoted there
    assert "TAG_perl" in out[1]
    assert (tmp_path / "runs" / "delicious-embedding" / "embedding.json").is_file()
    assert (tmp_path / "runs" / "bibtex-embedding" / "model" / "model.json").is_file()
    assert namespace["result"].best["MAP@100"] > 0.4

"""benchmarks/iconify_feature_cache.py: bad arguments and data end in one line and exit non-zero."""

import importlib.util
from pathlib import Path

import pytest

from labelsphere.train.inputs import ImageOptions, frozen_backbone

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "iconify_feature_cache.py"


def _script():
    spec = importlib.util.spec_from_file_location("iconify_feature_cache", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_worker_outside_the_share_count_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        _script().main(["--worker", "2", "--of", "2"])
    assert e.value.code == 2
    assert "--worker must be in [0, --of)" in capsys.readouterr().err


def test_a_missing_data_dir_and_a_bad_size_are_one_line_each(tmp_path, capsys):
    script = _script()
    assert script.main(["--data-dir", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nowhere" in err[0]
    assert script.main(["--image-size", "8", "--data-dir", str(tmp_path)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "error: image_size must be an integer in [16, 1024], got 8"
    )


def test_frozen_backbone_resizes_to_the_given_square():
    net = frozen_backbone(ImageOptions(image_size=96))
    assert tuple(net.data_config["input_size"]) == (3, 96, 96)
    assert net.data_config["crop_pct"] == 1.0

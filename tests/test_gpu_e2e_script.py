"""benchmarks/gpu_e2e_224.sh refuses a GPU run on a machine without one: one line, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU; the run would start")
def test_gpu_script_refuses_without_a_gpu(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_e2e_224.sh"), str(tmp_path), str(out)],
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "gpu_e2e_224.sh: DEVICE=cuda but torch sees no GPU (set DEVICE=cpu to run here anyway)"
    ]
    assert not out.exists()  # nothing started, nothing written


@pytest.fixture(scope="module")
def subset(tmp_path_factory, data_dir):
    """benchmarks/iconify_subset.py's copy of the max_icons=300 subset of the real set."""
    import runpy

    out = tmp_path_factory.mktemp("subset")
    script = runpy.run_path(str(ROOT / "benchmarks" / "iconify_subset.py"))
    args = ["--max-icons", "300", "--out", str(out), "--data-dir", str(data_dir)]
    assert script["main"](args) == 0
    return out


def test_the_subset_copy_loads_the_same_datasets(subset, data_dir, capsys):
    from labelsphere.data.readers.iconify import load_iconify

    for split in ("train", "test"):
        full = load_iconify(data_dir / "iconify-icons", split, max_icons=300, inputs="none")
        copy = load_iconify(subset / "iconify-icons", split, max_icons=300, inputs="none")
        assert len(copy) > 0 and copy.ids == full.ids
        assert copy.vocabulary.names == full.vocabulary.names
        assert (copy.Y != full.Y).nnz == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--max-icons", "0"], 2, "iconify_subset.py: --max-icons must be >= 1, got 0"),
        (["--max-icons", "5", "--data-dir", "/nonexistent"], 1, "iconify_subset.py: "),
    ],
)
def test_subset_script_bad_input_is_one_line(tmp_path, args, code, message):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "iconify_subset.py"),
            "--out",
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == code
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(message)


def _staged_run(subset: Path, tmp_path: Path, stages: str, **env: str):
    """gpu_e2e_224.sh on CPU, tiny: 16 px renders of the 300-icon subset, 1 epoch, one rate."""
    out = tmp_path / "out"
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),  # the render cache goes under ~/.cache
        "DEVICE": "cpu",
        "SIZE": "16",
        "ICONS": "300",
        "EPOCHS": "1",
        "LRS": "1e-3",
        "EXTEND": "0",
        "WORKERS": "0",
        "STAGES": stages,
        "OMP_NUM_THREADS": "1",
        **env,
    }
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_e2e_224.sh"), str(subset), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out, done.stdout


def test_a_stage_that_would_pass_the_deadline_is_skipped_and_the_rest_reported(subset, tmp_path):
    """The first stage always runs; with DEADLINE=1 the next is skipped, said in skipped.txt,
    and the report covers the heads that ran."""
    out, _ = _staged_run(subset, tmp_path, "sigmoid-prior|softmax", DEADLINE="1")
    assert "# iconify-icons: sigmoid-prior\n" in (out / "report.md").read_text()
    assert (out / "skipped.txt").read_text().startswith("gpu_e2e_224.sh: skipping softmax: ")
    assert not (out / "runs" / "softmax").exists()


def test_a_seeds_stage_adds_seeds_to_the_heads_so_far_with_the_strided_stem(subset, tmp_path):
    """`@2` trains seed 1 of every head so far; the runs carry --stem-stride and --amp."""
    out, stdout = _staged_run(subset, tmp_path, "sigmoid-prior|@2")
    assert "gpu_e2e_224.sh: 1 heads at 2 seed(s); 1 runs in" in stdout
    for seed in (0, 1):
        run = out / "runs" / "sigmoid-prior" / "lr=0.001" / f"seed={seed}"
        config = json.loads((run / "config.json").read_text())
        assert (config["stem_stride"], config["amp"], config["seed"]) == (4, True, seed)
    assert not (out / "skipped.txt").exists()


def test_device_script_without_a_mode_is_one_usage_line():
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_device.sh")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["usage: gpu_device.sh prepare | run OUT_DIR"]


def test_pixel_cnn_speed_times_every_configuration_on_cpu(tmp_path):
    """benchmarks/pixel_cnn_speed.py, tiny, on CPU: a row per configuration, the first the
    1.0x reference, and the JSON written."""
    out = tmp_path / "speed.json"
    args = ["--size", "32", "--batch", "4", "--steps", "1", "--warmup", "0", "--rounds", "1"]
    args += ["--device", "cpu", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pixel_cnn_speed.py"), *args],
        capture_output=True,
        text=True,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["stem_stride"], r["amp"], r["channels_last"]) for r in rows][:3] == [
        (1, False, False),
        (1, False, False),
        (1, True, True),
    ]
    assert len(rows) == 8 and rows[0]["speedup"] == 1.0
    assert all(r["ms_per_step"] > 0 for r in rows)


def test_pixel_cnn_speed_bad_input_is_one_line():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pixel_cnn_speed.py"), "--steps", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pixel_cnn_speed.py: sizes, counts and rounds must be >= 1"
    ]

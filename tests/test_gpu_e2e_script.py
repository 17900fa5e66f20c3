"""benchmarks/gpu_e2e_224.sh refuses a GPU run on a machine without one: one line, exit 2."""

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

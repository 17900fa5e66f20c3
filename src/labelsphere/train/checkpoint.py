"""Checkpoints: weights, optimizer state and RNG as safetensors, loop state as JSON.

``checkpoints/step-N/`` is written to a temporary directory, fsynced and renamed, with
``checkpoints/latest.json`` pointing at the newest complete one, so an interrupted run
resumes exactly where it was. The optimizer's nested state dict is split into flat tensors
and a JSON skeleton (never pickled).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from labelsphere.artifacts import FormatError, atomic_write_text, check_format, read_json

__all__ = ["load_checkpoint", "restore_state", "save_checkpoint", "state_tensors"]

_CKPT_FORMAT = "labelsphere.Checkpoint"
_FORMAT_VERSION = 1


def state_tensors(sd: dict[str, Any], prefix: str) -> tuple[dict[str, Tensor], Any]:
    """Split a (nested) state dict into flat tensors and a JSON skeleton referring to them."""
    tensors: dict[str, Tensor] = {}

    def walk(obj: Any, key: str) -> Any:
        if isinstance(obj, Tensor):
            name = f"{prefix}{key}"
            tensors[name] = obj.detach().cpu().contiguous()
            return {"__tensor__": name}
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [walk(k, f"{key}.k{i}"), walk(v, f"{key}.{i}")]
                    for i, (k, v) in enumerate(obj.items())
                ]
            }
        if isinstance(obj, (list, tuple)):
            return {
                "__list__": [walk(v, f"{key}.{i}") for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple),
            }
        if isinstance(obj, float) and not math.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj

    return tensors, walk(sd, "")


def restore_state(skeleton: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__dict__" in skeleton:
            return {
                restore_state(k, tensors): restore_state(v, tensors)
                for k, v in skeleton["__dict__"]
            }
        if "__list__" in skeleton:
            items = [restore_state(v, tensors) for v in skeleton["__list__"]]
            return tuple(items) if skeleton.get("tuple") else items
        if "__float__" in skeleton:
            return float(skeleton["__float__"])
    return skeleton


def save_checkpoint(
    run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict
) -> None:
    from safetensors.torch import save_file

    ckpt_root = run_dir / "checkpoints"
    final = ckpt_root / f"step-{step}"
    tmp = ckpt_root / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        str(tmp / "model.safetensors"),
    )
    opt_tensors, opt_skeleton = state_tensors(optimizer.state_dict(), "opt")
    rng = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"torch_cuda{i}"] = s
    save_file(
        {**opt_tensors, **{f"rng.{k}": v for k, v in rng.items()}},
        str(tmp / "optimizer.safetensors"),
    )
    (tmp / "state.json").write_text(
        json.dumps(
            {
                "format": _CKPT_FORMAT,
                "format_version": _FORMAT_VERSION,
                "step": step,
                "optimizer": opt_skeleton,
                **state,
            }
        )
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)  # the directory appears complete or not at all
    atomic_write_text(ckpt_root / "latest.json", json.dumps({"step": step, "path": final.name}))
    for old in ckpt_root.glob("step-*"):  # keep only the newest
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Tensor], dict[str, Tensor], dict] | None:
    from safetensors.torch import load_file

    latest = run_dir / "checkpoints" / "latest.json"
    if not latest.is_file():
        return None
    pointer = read_json(latest)
    path = run_dir / "checkpoints" / pointer["path"]
    state = read_json(path / "state.json")
    check_format(state, path / "state.json", _CKPT_FORMAT, _FORMAT_VERSION)
    try:
        return (
            load_file(str(path / "model.safetensors")),
            load_file(str(path / "optimizer.safetensors")),
            state,
        )
    except Exception as e:
        raise FormatError(f"{path}: unreadable checkpoint ({e})") from None

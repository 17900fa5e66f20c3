"""More than one process: PyTorch's own DistributedDataParallel, set up from torchrun's env.

``torchrun --nproc-per-node N -m labelsphere train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous in the environment; :func:`setup` joins the
process group (gloo on CPU, NCCL on GPU) and says which part of each global batch this process
trains on. Every process evaluates the full validation split (the same weights give the same
decisions, so early stopping and the best checkpoint need no messages); only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from labelsphere.device import resolve_device

__all__ = ["Distributed", "setup"]


@dataclass(frozen=True)
class Distributed:
    """This process's place: ``rank`` of ``world`` processes, and its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mean(self, value: float) -> float:
        """The mean of a float over all processes (the logged loss of the global batch)."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def setup(device: str = "auto") -> Distributed:
    """Join the process group torchrun describes in the environment; one process otherwise.

    ``device="auto"`` gives each process ``cuda:LOCAL_RANK`` on a GPU machine, else the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not (dist.is_available() and dist.is_initialized()):
        return Distributed(0, 1, resolve_device(device))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device != "cpu" else "gloo"
        dist.init_process_group(backend=backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if device == "auto" and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return Distributed(rank, world, torch.device("cuda", local))
    return Distributed(rank, world, resolve_device(device))

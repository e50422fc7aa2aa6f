"""Data-parallel training under `torchrun`: which process this is, and the few collectives used.

Without torchrun (WORLD_SIZE unset) everything degrades to a single process, so the same
training code runs on a laptop, a CPU runner and a multi-GPU node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only the main process talks to MLflow, writes checkpoints and registers the model."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def start() -> Processes:
    """Join the process group torchrun set up (gloo on CPU, nccl on GPU)."""
    processes = Processes(
        rank=int(os.environ.get("RANK", "0")),
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if processes.is_distributed and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return processes


def device_for(processes: Processes) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", processes.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def shard(order: torch.Tensor, processes: Processes) -> torch.Tensor:
    """This process's share of an epoch; equal lengths on every rank, or DDP's all-reduce would hang."""
    usable = len(order) - len(order) % processes.world_size
    return order[:usable][processes.rank :: processes.world_size]


def mean_over_processes(value: float, processes: Processes) -> float:
    if not processes.is_distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor.item()) / processes.world_size


def barrier(processes: Processes) -> None:
    if processes.is_distributed:
        dist.barrier()


def stop(processes: Processes) -> None:
    if processes.is_distributed and dist.is_initialized():
        dist.destroy_process_group()

"""Data-parallel training under `torchrun`: which process this is, and the few collectives used.

Without torchrun (WORLD_SIZE unset) everything degrades to a single process, so the same
training code runs on a laptop, a CPU runner and a multi-GPU node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def process_group() -> Iterator[Processes]:
    """Join the process group for the block; every rank leaves it together.

    The main process works on after the last epoch (final evaluation, ONNX export, registration)
    while the others have nothing left to do. Rank 1 used to destroy its gloo group and exit
    right away, seconds before rank 0, and once died of SIGABRT at that point ("terminate called
    without an active exception"), failing a good `make train NPROC=2`. Now, on success, every
    rank waits at a final barrier until the main process is done, and all then destroy the group
    at the same point with no collective pending. On an error there is no barrier (another rank
    may be inside a collective and would never match it): the group is destroyed, the error
    raised, and torchrun stops the other ranks.
    """
    processes = start()
    try:
        yield processes
    except BaseException:
        stop(processes)
        raise
    try:
        barrier(processes)
    finally:
        stop(processes)

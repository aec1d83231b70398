"""Running under torchrun: process group, DDP wrapping, rank-0-only work shared with the other ranks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from workflow.core.distributed import DistInfo, dist_info
from workflow.core.errors import TaskRunError, WorkflowError

T = TypeVar("T")


@dataclass
class DistContext(DistInfo):
    """This process's place in the job; ``owns_group`` when it created the process group (and tears it
    down)."""

    owns_group: bool = False

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank."""
        if not self.is_distributed:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def main_first(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 and give its result to every rank; an error on rank 0 is raised on all ranks.

        Rank 0 does the work alone (scanning a dataset, downloading weights), so ranks never race on it.
        """
        outcome: tuple[str, Any] = ("ok", None)
        if self.is_main:
            try:
                outcome = ("ok", fn())
            except WorkflowError as exc:
                if not self.is_distributed:
                    raise
                outcome = ("error", (type(exc), str(exc)))
        status, payload = self.broadcast(outcome)
        if status == "error":
            cls, message = payload
            raise (cls if isinstance(cls, type) and issubclass(cls, WorkflowError) else TaskRunError)(message)
        return payload

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def init_distributed(device_type: str) -> DistContext:
    """Join the torchrun job when ``WORLD_SIZE`` > 1: gloo on CPU, nccl on CUDA (the local rank's GPU)."""
    info = dist_info()
    ctx = DistContext(info.rank, info.world_size, info.local_rank)
    if not ctx.is_distributed:
        return ctx
    if dist.is_initialized():
        ctx.rank, ctx.world_size = dist.get_rank(), dist.get_world_size()
        return ctx
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank % torch.cuda.device_count())
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    ctx.owns_group = True
    return ctx


def average_buffers(model: torch.nn.Module, ctx: DistContext) -> None:
    """Average the floating-point buffers (batch-norm running statistics) over the ranks.

    DDP keeps the parameters identical, but each rank updates its running statistics on its own
    batches; averaging them after each epoch gives every rank (and the saved checkpoint) the same
    model, and the validation of each rank's shard the same network.
    """
    if not ctx.is_distributed:
        return
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer.div_(ctx.world_size)


def wrap_model(model: torch.nn.Module, device: torch.device, ctx: DistContext) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when distributed (rank 0's weights are broadcast), else
    ``model``."""
    if not ctx.is_distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

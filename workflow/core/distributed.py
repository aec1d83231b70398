"""Where this process stands in a torchrun job, read from the environment (no torch import)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class DistInfo:
    """This process's rank, the job's world size and the rank on this node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """Rank, world size and local rank as set by torchrun (defaults: a single process)."""
    env = os.environ
    return DistInfo(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

"""Training state that ``last.pt`` carries: RNG states, seeding, and finding what to resume from.

Everything is stored as tensors, lists, ints, floats and strings so the checkpoint
loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infer_torchvision_resnext.checkpoint.format import Checkpoint, load_checkpoint
from workflow.core.errors import ParamError


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global RNG states of torch (CPU and CUDA), python and numpy, as plain values."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"].cpu())
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resume_path(resume: str | Path, task_id: str = "train_torchvision_resnext") -> Path:
    """The checkpoint to resume from: ``resume`` itself, or ``last.pt`` inside a run folder.

    Raises:
        ParamError: nothing to resume at that path.
    """
    path = Path(resume).expanduser()
    if path.is_dir():
        if (path / "last.pt").is_file():
            return path / "last.pt"
        raise ParamError(
            f"task '{task_id}': parameter 'resume' is the folder '{path}' but it holds no last.pt"
        )
    if not path.is_file():
        raise ParamError(
            f"task '{task_id}': parameter 'resume' is '{path}', which does not exist "
            f"(give a run folder or its last.pt)"
        )
    return path


def load_resume(resume: str | Path, task_id: str = "train_torchvision_resnext") -> Checkpoint:
    """Load the checkpoint to resume from and check it carries training state.

    Raises:
        ParamError: missing path, or a checkpoint without optimizer/epoch state (e.g. a best.pt).
        CheckpointError: unreadable file.
    """
    checkpoint = load_checkpoint(resume_path(resume, task_id))
    missing = [k for k in ("epoch", "optimizer", "scheduler", "history") if k not in checkpoint.extra]
    if missing:
        raise ParamError(
            f"task '{task_id}': cannot resume from '{checkpoint.path}': it holds no training state "
            f"({', '.join(missing)} missing); resume from a run folder or its last.pt"
        )
    return checkpoint

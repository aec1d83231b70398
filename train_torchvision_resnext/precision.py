"""What training adds to the engine's device/precision choice: the torch device of this rank, the autocast
dtype.

``auto`` is resolved once, for every plugin, by :func:`workflow.core.runtime.resolve_runtime`
(bf16 on CPUs with AMX/AVX512-BF16, fp16 on CUDA, else fp32); :func:`resolve_train_runtime`
applies it to the task's parameters.
"""

from __future__ import annotations

import torch

from workflow.core.runtime import Runtime, resolve_runtime

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_train_runtime(device: str, precision: str, task_id: str) -> Runtime:
    """The device type (``cpu``/``cuda``) and precision a run uses, from the task's ``device`` /
    ``precision``.

    Raises:
        ParamError: ``cuda`` asked for on a machine without a usable GPU.
    """
    return resolve_runtime(device, precision, task_id=task_id)


def torch_device(device_type: str, local_rank: int = 0) -> torch.device:
    """The torch device of this process: on CUDA the local rank's GPU (round robin), else the CPU."""
    if device_type == "cuda":
        return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    return torch.device("cpu")


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision (None: plain fp32)."""
    return _DTYPES[precision]

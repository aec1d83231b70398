"""Device and autocast precision choices for training."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from workflow.errors import ParamError

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX-BF16 or AVX512-BF16 (bf16 matmuls/convs run natively)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    if "amx_bf16" in flags or "avx512_bf16" in flags:
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and "avx512" in torch.backends.cpu.get_cpu_capability().lower()
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without mkldnn
        return False


def resolve_device(device: str, task_id: str = "train_torchvision_resnext", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available (the local rank's GPU), else CPU.

    Raises:
        ParamError: ``cuda`` asked for on a machine without a usable GPU.
    """
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ParamError(f"task '{task_id}': parameter 'device' is 'cuda' but no CUDA GPU is available; use 'cpu' or 'auto'")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision actually used: ``auto`` -> bf16 on capable CPUs, fp16 on CUDA, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision (None: plain fp32)."""
    return _DTYPES[precision]

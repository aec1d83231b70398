"""Where and how models run: CPU class, device and precision, decided once for every task.

Training and inference (and third-party plugins) call :func:`resolve_runtime`, so
``precision: auto`` means the same thing everywhere on one machine:

- ``device: auto`` -> ``cuda`` when torch sees a GPU (unless the caller runs on the CPU
  only, e.g. OpenVINO), else ``cpu``;
- ``precision: auto`` -> ``fp16`` on CUDA; on the CPU ``bf16`` where it computes bf16
  natively (AMX-BF16 or AVX512-BF16), else ``int8`` where the caller runs INT8 models and a
  calibrated INT8 model of these weights agrees with fp32 on >= 99% of top-1 (recorded when it
  was calibrated), else ``fp32``.

One INFO line per process and distinct choice says what was chosen and why. Nothing
here imports torch unless a CUDA question is asked.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from workflow.core.errors import ParamError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16", "int8")
INT8_MIN_AGREEMENT = 0.99
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class CpuInfo:
    """What the CPU offers. ``cpu_class`` is ``amx``, ``avx512_bf16``, ``avx512``, ``avx2`` or ``generic``."""

    model: str
    flags: frozenset[str]

    @property
    def bf16(self) -> bool:
        """True when bf16 matmuls/convolutions run natively (AMX-BF16 or AVX512-BF16)."""
        return any(f in self.flags for f in _BF16_FLAGS)

    @property
    def vnni(self) -> bool:
        """True when int8 dot products have VNNI instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8)."""
        return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & self.flags)

    def describe(self) -> str:
        """One line for benchmarks: model name, class and the flags that decide precision."""
        has = {
            name: any(f in self.flags for f in fl)
            for name, fl in (
                ("AMX", ("amx_bf16", "amx_int8")),
                ("AVX-512", ("avx512f",)),
                ("AVX512-BF16", ("avx512_bf16",)),
                ("VNNI", ("avx512_vnni", "avx_vnni", "amx_int8")),
                ("AVX2", ("avx2",)),
            )
        }
        return (
            f"CPU: {self.model} (class {self.cpu_class}; "
            + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in has.items())
            + ")"
        )

    @property
    def cpu_class(self) -> str:
        for name, flag in (
            ("amx", "amx_bf16"),
            ("avx512_bf16", "avx512_bf16"),
            ("avx512", "avx512f"),
            ("avx2", "avx2"),
        ):
            if flag in self.flags:
                return name
        return "generic"


@functools.lru_cache(maxsize=1)
def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one, else every CPU."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cpu_info() -> CpuInfo:
    """The CPU's model name and feature flags, read once from ``/proc/cpuinfo`` (torch's view elsewhere)."""
    model, flags = "unknown CPU", frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    if not flags:  # not Linux: ask torch, when it is installed
        try:
            import torch

            flags = frozenset(k for k, v in torch.cpu.get_capabilities().items() if v is True)
        except Exception:  # torch missing or too old: no flags known, so nothing is assumed
            flags = frozenset()
    return CpuInfo(model, flags)


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16)."""
    return cpu_info().bf16


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@dataclass(frozen=True)
class Runtime:
    """A resolved choice: ``device`` cpu/cuda, ``precision`` fp32/bf16/fp16, and ``reason`` in words."""

    device: str
    precision: str
    reason: str = ""


def resolve_runtime(
    device: str = "auto",
    precision: str = "auto",
    *,
    task_id: str = "",
    cpu_only: bool = False,
    int8: bool = False,
    int8_agreement: float | None = None,
) -> Runtime:
    """Turn ``auto`` choices into concrete ones (see the module docstring).

    Args:
        device: ``auto``, ``cpu`` or ``cuda``.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16``.
        task_id: named in errors.
        cpu_only: the caller runs on the CPU only (``auto`` never picks CUDA; ``cuda`` is refused by the
        caller).
        int8: the caller can run INT8 models on the CPU (OpenVINO); otherwise ``int8`` is refused.
        int8_agreement: recorded top-1 agreement with fp32 of a calibrated INT8 model of these weights (None:
        none).

    Raises:
        ParamError: ``cuda`` asked for on a machine without a usable GPU.
    """
    who = f"task '{task_id}': " if task_id else ""
    if device == "auto":
        device = "cuda" if not cpu_only and cuda_available() else "cpu"
        why_device = (
            "a CUDA GPU is available"
            if device == "cuda"
            else "no CUDA GPU"
            if not cpu_only
            else "CPU backend"
        )
    elif device == "cuda":
        if not cuda_available():
            raise ParamError(
                f"{who}parameter 'device' is 'cuda' but torch sees no CUDA GPU; use 'cpu' or 'auto'"
            )
        why_device = "asked for"
    else:
        why_device = "asked for"
    if precision == "auto":
        if device == "cuda":
            precision, why = "fp16", "fp16 on CUDA"
        else:
            precision, why = _auto_cpu_precision(cpu_info(), int8_agreement if int8 else None)
    elif precision not in PRECISIONS:
        raise ParamError(
            f"{who}parameter 'precision' is '{precision}'; expected auto, {', '.join(PRECISIONS)}"
        )
    elif precision == "int8" and (not int8 or device == "cuda"):
        raise ParamError(
            f"{who}parameter 'precision' is 'int8', which runs on the CPU with the OpenVINO backend only; "
            f"use 'auto', 'fp32' or 'bf16' here"
        )
    else:
        why = f"{precision}: asked for"
    runtime = Runtime(device, precision, f"device {device} ({why_device}), precision {why}")
    _log_once(runtime)
    return runtime


def _auto_cpu_precision(info: CpuInfo, int8_agreement: float | None) -> tuple[str, str]:
    """(precision, why) for ``auto`` on the CPU: bf16 where native, else int8 when its agreement is >= 99%,
    else fp32."""
    if info.bf16:
        return "bf16", f"bf16: the CPU ({info.cpu_class}) computes bf16 natively"
    no_bf16 = f"the CPU ({info.cpu_class}) has no native bf16 (AMX-BF16/AVX512-BF16)"
    if int8_agreement is None:
        return "fp32", f"fp32: {no_bf16} and no calibrated INT8 model of these weights exists"
    share = f"{100 * int8_agreement:.1f}%"
    if int8_agreement >= INT8_MIN_AGREEMENT:
        return (
            "int8",
            f"int8: {no_bf16} and the calibrated INT8 model of these weights agrees with fp32 "
            f"on {share} of top-1 (>= 99%)",
        )
    return (
        "fp32",
        f"fp32: {no_bf16} and the calibrated INT8 model of these weights agrees with fp32 "
        f"on only {share} of top-1 (< 99%)",
    )


@functools.lru_cache(maxsize=32)
def _log_once(runtime: Runtime) -> None:
    log.info("runtime: %s", runtime.reason)

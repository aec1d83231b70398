"""Where and how models run: CPU class, device and precision, decided once for every task.

Training and inference (and third-party plugins) call :func:`resolve_runtime`, so
``precision: auto`` means the same thing everywhere on one machine:

- ``device: auto`` -> ``cuda`` when torch sees a GPU (unless the caller runs on the CPU
  only), else ``cpu``;
- ``precision: auto`` -> ``fp16`` on CUDA; on the CPU ``bf16`` where it computes bf16
  natively (AMX-BF16 or AVX512-BF16), else the first :class:`PrecisionCandidate` a plugin
  offers and accepts (its own rule, e.g. a quantized model that passed an accuracy check),
  else ``fp32``.

One INFO line per process and distinct choice says what was chosen and why. A process that
shares the machine (e.g. a Ray actor) gets a thread budget (:func:`thread_budget`). Nothing
here imports torch unless a CUDA question is asked.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workflow.core.errors import ParamError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16")
THREADS_ENV = "WORKFLOW_NUM_THREADS"
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


def thread_budget() -> int | None:
    """Threads this process's models may use when the engine set a budget (``$WORKFLOW_NUM_THREADS``, e.g. the
    CPUs Ray gave an actor); None: no budget, every usable CPU.

    Raises:
        ParamError: the variable holds something else than a positive whole number.
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ParamError(f"${THREADS_ENV} is '{text}'; expected a positive whole number of threads")
    return int(text)


@dataclass(frozen=True)
class Runtime:
    """A resolved choice: ``backend`` (what runs the model: ``torch`` unless a plugin runs another), ``device``
    cpu/cuda, ``precision`` (fp32/bf16/fp16 or a plugin's candidate), ``model_file`` (the file that candidate
    runs, else None) and ``reason`` in words (not part of equality)."""

    backend: str
    device: str
    precision: str
    model_file: str | None = None
    reason: str = field(default="", compare=False)


@dataclass(frozen=True)
class PrecisionCandidate:
    """A CPU precision a plugin offers ``precision: auto`` besides the engine's, decided by the plugin's own rule.

    ``auto`` weighs candidates only on a CPU without native bf16, in the order given, and takes the first
    ``accepted`` one; ``why`` completes the log line either way ("fp32: ... and <why>"). ``model_file`` is the
    file that precision runs (None: none exists), carried into :attr:`Runtime.model_file`.
    """

    precision: str
    accepted: bool
    why: str
    model_file: str | None = None


def resolve_runtime(
    device: str = "auto",
    precision: str = "auto",
    *,
    task_id: str = "",
    cpu_only: bool = False,
    backend: str = "torch",
    candidates: Sequence[PrecisionCandidate] = (),
) -> Runtime:
    """Turn ``auto`` choices into concrete ones (see the module docstring).

    Args:
        device: ``auto``, ``cpu`` or ``cuda``.
        precision: ``auto``, ``fp32``, ``bf16``, ``fp16`` or the precision of one of ``candidates``.
        task_id: named in errors.
        cpu_only: the caller runs on the CPU only (``auto`` never picks CUDA; ``cuda`` is refused by the
            caller).
        backend: what runs the model, copied into the result.
        candidates: CPU precisions the caller can run besides the engine's, for ``auto`` to weigh.

    Raises:
        ParamError: ``cuda`` asked for on a machine without a usable GPU; an unknown precision; a candidate's
            precision on CUDA.
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
    model_file = None
    offered = {c.precision: c for c in candidates}
    if precision == "auto":
        if device == "cuda":
            precision, why = "fp16", "fp16 on CUDA"
        else:
            precision, why, model_file = _auto_cpu_precision(cpu_info(), candidates)
    elif precision in offered:
        if device == "cuda":
            raise ParamError(
                f"{who}parameter 'precision' is '{precision}', which runs on the CPU only; "
                f"use 'auto', {', '.join(repr(p) for p in PRECISIONS)} here"
            )
        why, model_file = f"{precision}: asked for", offered[precision].model_file
    elif precision not in PRECISIONS:
        raise ParamError(
            f"{who}parameter 'precision' is '{precision}'; expected auto, {', '.join((*PRECISIONS, *offered))}"
        )
    else:
        why = f"{precision}: asked for"
    runtime = Runtime(
        backend, device, precision, model_file, f"device {device} ({why_device}), precision {why}"
    )
    _log_once(runtime.reason)
    return runtime


def _auto_cpu_precision(
    info: CpuInfo, candidates: Sequence[PrecisionCandidate]
) -> tuple[str, str, str | None]:
    """(precision, why, model file) for ``auto`` on the CPU: bf16 where native, else the first accepted
    candidate, else fp32."""
    if info.bf16:
        return "bf16", f"bf16: the CPU ({info.cpu_class}) computes bf16 natively", None
    no_bf16 = f"the CPU ({info.cpu_class}) has no native bf16 (AMX-BF16/AVX512-BF16)"
    chosen = next((c for c in candidates if c.accepted), None)
    if chosen is not None:
        return chosen.precision, f"{chosen.precision}: {no_bf16} and {chosen.why}", chosen.model_file
    return "fp32", "".join([f"fp32: {no_bf16}", *(f" and {c.why}" for c in candidates)]), None


@functools.lru_cache(maxsize=32)
def _log_once(reason: str) -> None:
    log.info("runtime: %s", reason)

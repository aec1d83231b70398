"""Which backend and precision run a model, and building it.

:func:`resolve_runtime` turns the task's ``device`` / ``precision`` / ``backend``
parameters into a :class:`workflow.core.runtime.Runtime`. Device and precision come from
:func:`workflow.core.runtime.resolve_runtime`, the one decision shared with training
(``precision: auto`` is fp16 on CUDA, bf16 on a CPU with AMX/AVX512-BF16, else fp32); this
module adds this plugin's policy: INT8 as a candidate for ``auto`` (taken on a CPU without
native bf16 when the calibrated INT8 model agrees with fp32 on >= 99% of top-1, see
:func:`int8_candidate`), and the backend: OpenVINO on the CPU when installed, else torch.
:func:`create_backend` builds the chosen one.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from infer_torchvision_resnext.backends.openvino_backend import OpenVINOBackend
from infer_torchvision_resnext.backends.protocol import Backend
from infer_torchvision_resnext.backends.torch_backend import TorchBackend
from infer_torchvision_resnext.models import ModelSetupError
from workflow.core import runtime as shared_runtime
from workflow.core.errors import ParamError
from workflow.core.runtime import PrecisionCandidate, Runtime

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infer_torchvision_resnext.recipe import Preprocessing

log = logging.getLogger(__name__)
INT8_MIN_AGREEMENT = 0.99  # top-1 agreement with fp32 a calibrated INT8 model needs for ``precision: auto``


def openvino_available() -> bool:
    """True when the optional ``openvino`` package is installed."""
    return importlib.util.find_spec("openvino") is not None


@functools.lru_cache(maxsize=1)
def _warn_no_openvino() -> None:
    """One line per process: the CPU runs ~2-3x slower without the OpenVINO extra."""
    log.warning(
        "openvino is not installed: backend 'auto' uses torch on the CPU "
        "(pip install 'cv-workflow[openvino]' for ~2-3x the speed)"
    )


def int8_candidate(int8_model: str | None, agreement: float | None) -> PrecisionCandidate:
    """INT8 as ``precision: auto`` sees it: accepted when the calibrated model of these weights agrees with fp32
    on >= ``INT8_MIN_AGREEMENT`` of top-1 (its recorded agreement; None: none recorded or no model)."""
    none = "no calibrated INT8 model of these weights exists"
    if agreement is None:
        return PrecisionCandidate("int8", False, none, int8_model)
    share = f"{100 * agreement:.1f}%"
    said, gate = "the calibrated INT8 model of these weights agrees with fp32 on", f"{INT8_MIN_AGREEMENT:.0%}"
    if agreement >= INT8_MIN_AGREEMENT:
        return PrecisionCandidate("int8", True, f"{said} {share} of top-1 (>= {gate})", int8_model)
    return PrecisionCandidate("int8", False, f"{said} only {share} of top-1 (< {gate})", int8_model)


def resolve_runtime(
    device: str = "auto",
    precision: str = "auto",
    backend: str = "auto",
    *,
    task_id: str = "",
    int8_model: str | None = None,
    int8_agreement: float | None = None,
) -> Runtime:
    """Turn ``auto`` choices into concrete ones and refuse impossible combinations.

    Args:
        device: ``auto``, ``cpu`` or ``cuda``.
        precision: ``auto``, ``fp32``, ``bf16``, ``fp16`` or ``int8``.
        backend: ``auto``, ``torch`` or ``openvino``.
        task_id: named in errors.
        int8_model: a calibrated INT8 model of the weights (:mod:`..int8.select`); None: int8 is not possible.
        int8_agreement: its recorded top-1 agreement with fp32, which ``auto`` weighs (:func:`int8_candidate`).

    Raises:
        ModelSetupError: cuda requested without a GPU, openvino requested but missing or with cuda,
            int8 where it cannot run, fp16 on the torch CPU path (a :class:`ParamError` and a
            :class:`SetupError`).
    """
    who = f"task '{task_id}': " if task_id else ""
    if backend == "openvino":
        if device == "cuda":
            raise ModelSetupError(
                f"{who}parameter 'backend' is 'openvino', which runs on the CPU here; "
                f"use device 'cpu' (or 'auto') or backend 'torch'"
            )
        if not openvino_available():
            raise ModelSetupError(
                f"{who}parameter 'backend' is 'openvino' but the openvino package is not installed "
                f"(pip install 'cv-workflow[openvino]'); use backend 'auto' or 'torch'"
            )
    runs_int8 = int8_model is not None and backend != "torch"
    if precision == "int8" and (not runs_int8 or device == "cuda"):
        raise ModelSetupError(
            f"{who}parameter 'precision' is 'int8', which runs on the CPU with the OpenVINO backend only; "
            f"use 'auto', 'fp32' or 'bf16' here"
        )
    int8 = int8_candidate(int8_model, int8_agreement) if runs_int8 else int8_candidate(None, None)
    try:
        chosen = shared_runtime.resolve_runtime(
            device,
            precision,
            task_id=task_id,
            cpu_only=backend == "openvino" or precision == "int8",
            candidates=(int8,),
        )
    except ParamError as exc:
        raise ModelSetupError(str(exc)) from None
    if backend == "auto":
        backend = "openvino" if chosen.device == "cpu" and openvino_available() else "torch"
        if chosen.device == "cpu" and backend == "torch":
            _warn_no_openvino()
    if backend == "torch" and chosen.device == "cpu" and chosen.precision == "fp16":
        raise ModelSetupError(
            f"{who}parameter 'precision' is 'fp16', which the torch CPU path does not support; "
            f"use 'bf16', 'fp32' or backend 'openvino'"
        )
    return dataclasses.replace(chosen, backend=backend)


def create_backend(
    model_factory: Callable[[], torch.nn.Module],
    prep: Preprocessing,
    runtime: Runtime,
    *,
    cache_key: str | None = None,
    batch_size: int = 8,
    num_classes: int = -1,
) -> Backend:
    """The backend ``runtime`` names.

    Args:
        model_factory: builds the torch model (OpenVINO calls it only when its cache has no
            converted model for ``cache_key``).
        prep: preprocessing recipe (mean/std are applied by the backend).
        runtime: resolved backend/device/precision.
        cache_key: identity of the weights for the OpenVINO cache (None: convert every time).
        batch_size: crops per task batch.
        num_classes: head size (part of the OpenVINO cache key).
    """
    if runtime.backend == "openvino":
        return OpenVINOBackend(
            model_factory, prep, runtime, cache_key=cache_key, batch_size=batch_size, num_classes=num_classes
        )
    return TorchBackend(model_factory(), prep, runtime, batch_size=batch_size)


__all__ = [
    "INT8_MIN_AGREEMENT",
    "Backend",
    "Runtime",
    "create_backend",
    "int8_candidate",
    "openvino_available",
    "resolve_runtime",
]

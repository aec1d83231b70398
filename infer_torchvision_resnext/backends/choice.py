"""Which backend runs a model, and building it.

:func:`resolve_runtime` turns the task's ``device`` / ``precision`` / ``backend``
parameters into a :class:`.backend.Runtime`. Device and precision come from
:func:`workflow.core.runtime.resolve_runtime`, the one decision shared with training
(``precision: auto`` is fp16 on CUDA, bf16 on a CPU with AMX/AVX512-BF16, else
fp32); this module only adds the backend: OpenVINO on the CPU when installed,
else torch. :func:`create_backend` builds the chosen one.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from infer_torchvision_resnext.backends.openvino_backend import OpenVINOBackend
from infer_torchvision_resnext.backends.protocol import Backend, Runtime
from infer_torchvision_resnext.backends.torch_backend import TorchBackend
from infer_torchvision_resnext.models import ModelSetupError
from workflow.core import runtime as shared_runtime
from workflow.core.errors import ParamError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infer_torchvision_resnext.recipe import Preprocessing

log = logging.getLogger(__name__)


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
        int8_model: a calibrated INT8 model of the weights (:mod:`.int8_select`); None: int8 is not possible.
        int8_agreement: its recorded top-1 agreement with fp32, which ``auto`` weighs.

    Raises:
        ModelSetupError: cuda requested without a GPU, openvino requested but missing or with cuda,
            fp16 on the torch CPU path (a :class:`ParamError` and a :class:`SetupError`).
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
    try:
        chosen = shared_runtime.resolve_runtime(
            device,
            precision,
            task_id=task_id,
            cpu_only=backend == "openvino" or precision == "int8",
            int8=int8_model is not None and backend != "torch",
            int8_agreement=int8_agreement,
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
    return Runtime(
        backend, chosen.device, chosen.precision, int8_model if chosen.precision == "int8" else None
    )


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


__all__ = ["Backend", "Runtime", "openvino_available", "resolve_runtime", "create_backend"]

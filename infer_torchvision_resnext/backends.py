"""Inference backends: torch (CPU/CUDA) and OpenVINO (CPU).

Both take uint8 NHWC batches of preprocessed crops and return float32 logits.
:func:`resolve_runtime` turns the task's ``device`` / ``precision`` / ``backend``
parameters into concrete choices (``auto`` -> OpenVINO + bf16 on a CPU with
AMX/AVX512-BF16, torch + fp16 on CUDA). The OpenVINO backend lives in
:mod:`infer_torchvision_resnext.ov_backend`.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workflow.errors import ParamError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infer_torchvision_resnext.checkpoint import Preprocessing

log = logging.getLogger("workflow.task.infer_torchvision_resnext")


@dataclass(frozen=True)
class Runtime:
    """Concrete execution choices: ``backend`` torch/openvino, ``device`` cpu/cuda, ``precision`` fp32/bf16/fp16."""

    backend: str
    device: str
    precision: str


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16)."""
    try:
        import torch

        caps = torch.cpu.get_capabilities()
        return bool(caps.get("amx_bf16") or caps.get("avx512_bf16"))
    except Exception:  # older torch: read the kernel's flags
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
                flags = set(fh.read().split())
            return bool({"amx_bf16", "avx512_bf16"} & flags)
        except OSError:
            return False


def openvino_available() -> bool:
    """True when the optional ``openvino`` package is installed."""
    return importlib.util.find_spec("openvino") is not None


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@functools.lru_cache(maxsize=1)
def _warn_no_openvino() -> None:
    """One line per process: the CPU runs ~2-3x slower without the OpenVINO extra."""
    log.warning("openvino is not installed: backend 'auto' uses torch on the CPU "
                "(pip install 'cv-workflow[openvino]' for ~2-3x the speed)")


def resolve_runtime(device: str = "auto", precision: str = "auto", backend: str = "auto") -> Runtime:
    """Turn ``auto`` choices into concrete ones and refuse impossible combinations.

    Raises:
        ParamError: cuda requested without a GPU, openvino requested but missing or with cuda,
            fp16 on the torch CPU path, bf16 on a GPU without bf16 support.
    """
    if device == "auto":
        device = "cuda" if backend != "openvino" and cuda_available() else "cpu"
    elif device == "cuda" and not cuda_available():
        raise ParamError("device 'cuda' was requested but torch sees no CUDA GPU; use device 'auto' or 'cpu'")
    if backend == "auto":
        if device == "cpu" and openvino_available():
            backend = "openvino"
        else:
            if device == "cpu":
                _warn_no_openvino()
            backend = "torch"
    elif backend == "openvino":
        if device == "cuda":
            raise ParamError("backend 'openvino' runs on the CPU here; use device 'cpu' (or 'auto') or backend 'torch'")
        if not openvino_available():
            raise ParamError("backend 'openvino' was requested but the openvino package is not installed "
                             "(pip install 'cv-workflow[openvino]'); use backend 'auto' or 'torch'")
    if precision == "auto":
        precision = "fp16" if device == "cuda" else ("bf16" if cpu_supports_bf16() else "fp32")
    if backend == "torch" and device == "cpu" and precision == "fp16":
        raise ParamError("precision 'fp16' is not supported by the torch CPU path; use 'bf16', 'fp32' or backend 'openvino'")
    return Runtime(backend, device, precision)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 for stable scores, returned as float32."""
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fuse_for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """Fold BatchNorm into the preceding convolutions (eval only); returns the model unchanged if fx cannot trace it."""
    try:
        from torch.fx.experimental.optimization import fuse

        return fuse(model.eval())
    except Exception as exc:  # tracing failures only cost speed, never correctness
        log.debug("conv-bn fusion skipped: %s", exc)
        return model.eval()


class TorchBackend:
    """Eager torch inference: BN folded, channels_last, ``inference_mode``, bf16 model on CPU, fp16 on CUDA.

    Args:
        model: the classifier (any head size).
        prep: gives mean/std, applied on the device to uint8 batches.
        runtime: resolved device and precision.
    """

    name = "torch"

    def __init__(self, model: torch.nn.Module, prep: Preprocessing, runtime: Runtime):
        import torch

        self.runtime = runtime
        self.prep = prep
        self.device = torch.device(runtime.device)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[runtime.precision]
        model = fuse_for_inference(model)
        self.model = model.to(self.device, dtype=self.dtype, memory_format=torch.channels_last).eval()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, classes) float32 of a uint8 NHWC batch."""
        import torch

        from infer_torchvision_resnext.preprocess import normalize_nchw

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch))
            if self.device.type == "cuda":
                x = x.pin_memory().to(self.device, non_blocking=True)
            x = normalize_nchw(x, self.prep.mean, self.prep.std).to(self.dtype)
            return self.model(x).float().cpu().numpy()

    def infer_batches(self, batches) -> list[np.ndarray]:
        """Logits for each batch of an iterable, in order."""
        return [self.infer(batch) for batch in batches]


def create_backend(model, prep: Preprocessing, runtime: Runtime, cache_key: str | None = None, batch_size: int = 8,
                   num_classes: int | None = None):
    """The backend for ``runtime``.

    Args:
        model: a torch module, or a zero-argument callable that builds it (OpenVINO calls it only
            when its cache has no converted model for ``cache_key``).
        prep: preprocessing recipe (mean/std are applied by the backend).
        runtime: resolved backend/device/precision.
        cache_key: identity of the weights for the OpenVINO cache (None: convert every time).
        batch_size: images per task batch.
        num_classes: head size, when ``model`` is a callable.
    """
    if runtime.backend == "openvino":
        from infer_torchvision_resnext.ov_backend import OpenVINOBackend

        return OpenVINOBackend(model, prep, runtime, cache_key=cache_key, batch_size=batch_size, num_classes=num_classes)
    is_factory = callable(model) and not hasattr(model, "state_dict")
    return TorchBackend(model() if is_factory else model, prep, runtime)

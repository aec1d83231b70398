"""INT8 post-training quantization of an OpenVINO classifier with NNCF, and its check against fp32.

The model to quantize is the backend's fp32 OpenVINO graph (uint8 NHWC in, mean/std inside), so
calibration items are the same uint8 crops the backend sees. NNCF's overflow fix is always ENABLE:
CPUs without VNNI (AVX2-only, e.g. AMD EPYC here) compute u8 x s8 products in saturating 16-bit
pairs, and a quantized model may be used on another CPU than the one that calibrated it.
The stem convolution (the first one, on normalised pixels) stays fp32: it is the most sensitive
layer (NNCF's accuracy-control ranking put it first; alone it halved the INT8 output error on the
demo's digits) and costs ~3% of ResNeXt-50's operations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MAX_CALIBRATION = 300  # NNCF's default subset size; more images add time, not accuracy
MIN_CALIBRATION = 1
OVERFLOW_FIX = "enable"
RECIPE = "overflow-fix-enable+stem-fp32"  # part of the INT8 cache key: a new recipe quantizes again


@dataclass(frozen=True)
class Agreement:
    """fp32 vs INT8 on the same crops: ``agreement`` = share of equal top-1; accuracies when labels are
    known."""

    images: int
    agreement: float
    top1_fp32: float | None = None
    top1_int8: float | None = None

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "top1_agreement": round(self.agreement, 6),
            "top1_fp32": None if self.top1_fp32 is None else round(self.top1_fp32, 6),
            "top1_int8": None if self.top1_int8 is None else round(self.top1_int8, 6),
        }


def quantize_model(ov_model, crops: Sequence[np.ndarray], *, subset_size: int | None = None, **options):
    """The INT8 version of ``ov_model`` (an ``openvino.Model``), calibrated on ``crops``.

    Args:
        ov_model: fp32 model taking uint8 NHWC batches.
        crops: HxWx3 uint8 crops at the model's input size (the inference preprocessing), >= 1.
        subset_size: how many crops NNCF uses (default: all, at most ``MAX_CALIBRATION``).

    Raises:
        ValueError: no crops, or crops of another size than the model's input.
    """
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    if len(crops) < MIN_CALIBRATION:
        raise ValueError("INT8 calibration needs at least one image; got none")
    n = min(len(crops), subset_size or MAX_CALIBRATION, MAX_CALIBRATION)
    items = [np.ascontiguousarray(c[None]) for c in crops[:n]]  # one image per item: statistics per sample
    start = time.perf_counter()
    options.setdefault("preset", nncf.QuantizationPreset.PERFORMANCE)
    options.setdefault("fast_bias_correction", True)
    stem = first_convolution(ov_model)
    if stem is not None:
        options.setdefault("ignored_scope", nncf.IgnoredScope(names=[stem]))
    quantized = nncf.quantize(
        ov_model,
        nncf.Dataset(items),
        **options,
        target_device=nncf.TargetDevice.CPU,
        subset_size=n,
        advanced_parameters=AdvancedQuantizationParameters(overflow_fix=OverflowFix(OVERFLOW_FIX)),
    )
    log.info("INT8 calibration on %d images took %.1fs (%s)", n, time.perf_counter() - start, RECIPE)
    return quantized


def first_convolution(ov_model) -> str | None:
    """Name of the first Convolution of ``ov_model`` in execution order (None without one)."""
    return next(
        (op.get_friendly_name() for op in ov_model.get_ordered_ops() if op.get_type_name() == "Convolution"),
        None,
    )


def top1(
    infer: Callable[[np.ndarray], np.ndarray], crops: Sequence[np.ndarray], batch: int = 16
) -> np.ndarray:
    """Top-1 class index of each crop through ``infer`` (uint8 NHWC batch -> logits)."""
    out = [np.asarray(infer(np.stack(crops[i : i + batch]))).argmax(1) for i in range(0, len(crops), batch)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def measure_agreement(
    infer_fp32, infer_int8, crops: Sequence[np.ndarray], labels: Iterable[int] | None = None
) -> Agreement:
    """Top-1 agreement of the two models on ``crops`` (and each one's accuracy when ``labels`` are given)."""
    if not len(crops):
        raise ValueError("measuring INT8 agreement needs at least one image; got none")
    a, b = top1(infer_fp32, crops), top1(infer_int8, crops)
    if labels is None:
        return Agreement(len(crops), float((a == b).mean()))
    y = np.asarray(list(labels))
    return Agreement(len(crops), float((a == b).mean()), float((a == y).mean()), float((b == y).mean()))


def sync_infer(compiled) -> Callable[[np.ndarray], np.ndarray]:
    """A plain function running one batch through a compiled OpenVINO model (for checks, not speed)."""
    request = compiled.create_infer_request()

    def infer(batch: np.ndarray) -> np.ndarray:
        return request.infer({0: np.ascontiguousarray(batch)})[0].copy()

    return infer

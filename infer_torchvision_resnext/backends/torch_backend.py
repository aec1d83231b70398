"""Eager torch backend (CPU or CUDA): BN folded, channels_last, ``inference_mode``, bf16/fp16 weights."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from infer_torchvision_resnext.backends.protocol import Runtime
from infer_torchvision_resnext.preprocess import normalize_nchw

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infer_torchvision_resnext.recipe import Preprocessing

log = logging.getLogger(__name__)


def fuse_for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """Fold BatchNorm into the preceding convolutions (eval only); the model unchanged if fx cannot trace
    it."""
    try:
        from torch.fx.experimental.optimization import fuse

        return fuse(model.eval())
    except Exception as exc:  # tracing failures only cost speed, never correctness; said at DEBUG
        log.debug("conv-bn fusion skipped: %s", exc)
        return model.eval()


class TorchBackend:
    """Eager torch inference of a classifier (any head size); implements :class:`.protocol.Backend`.

    Args:
        model: the classifier.
        prep: gives mean/std, applied on the device to uint8 batches.
        runtime: resolved device and precision.
        batch_size: crops per forward pass.
    """

    name = "torch"

    def __init__(self, model: torch.nn.Module, prep: Preprocessing, runtime: Runtime, batch_size: int = 8):
        import torch

        self.runtime = runtime
        self.prep = prep
        self.batch_size = int(batch_size)
        self.device = torch.device(runtime.device)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[runtime.precision]
        model = fuse_for_inference(model)
        self.model = model.to(self.device, dtype=self.dtype, memory_format=torch.channels_last).eval()

    def chunk_size(self, n_items: int) -> int:
        """``batch_size`` crops per forward pass (fewer when there are fewer)."""
        return max(1, min(self.batch_size, n_items))

    def set_batch_size(self, n: int) -> bool:
        """Any batch size works with the same model: always True."""
        self.batch_size = int(n)
        return True

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, classes) float32 of a uint8 NHWC batch."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch))
            if self.device.type == "cuda":
                x = x.pin_memory().to(self.device, non_blocking=True)
            x = normalize_nchw(x, self.prep.mean, self.prep.std).to(self.dtype)
            return self.model(x).float().cpu().numpy()

    def infer_batches(self, chunks: Iterable[np.ndarray], n_items: int | None = None) -> list[np.ndarray]:
        """Logits for each chunk of an iterable, in order (``n_items`` does not change how torch runs)."""
        return [self.infer(chunk) for chunk in chunks]

    def close(self) -> None:
        """Drop the model (its memory is freed once nothing else holds it)."""
        self.model = None


__all__ = ["TorchBackend", "fuse_for_inference"]

"""What every inference backend offers (:class:`Backend`) and the choice it runs with (:class:`Runtime`, the
engine's :class:`workflow.core.runtime.Runtime`: backend, device, precision and the INT8 model file).

Backends take uint8 NHWC batches of preprocessed crops (mean/std are applied by
the backend, on its device or inside its graph) and return float32 logits.
This module holds no implementation: :mod:`.torch_backend` and
:mod:`.openvino_backend` implement the protocol, :mod:`.choice` picks one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np

from workflow.core.runtime import Runtime


@runtime_checkable
class Backend(Protocol):
    """A model ready to run: uint8 NHWC crops in, float32 logits ``(N, classes)`` out."""

    name: str
    runtime: Runtime

    def chunk_size(self, n_items: int) -> int:
        """Crops per call of the model when ``n_items`` crops are to be classified (>= 1)."""
        ...

    def set_batch_size(self, n: int) -> bool:
        """Adapt to ``n`` crops per task batch; False when the backend must be rebuilt for ``n`` instead."""
        ...

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Logits of one uint8 NHWC batch."""
        ...

    def infer_batches(self, chunks: Iterable[np.ndarray], n_items: int | None = None) -> list[np.ndarray]:
        """Logits of each chunk, in order; a lazy iterable's next chunk is prepared while earlier ones run
        (``n_items``: crops in all, which may choose how the model runs; None: a task batch)."""
        ...

    def close(self) -> None:
        """Finish pending work and release the model (the backend cannot be used afterwards)."""
        ...


__all__ = ["Backend", "Runtime"]

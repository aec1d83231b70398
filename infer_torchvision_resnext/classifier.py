"""A ResNeXt classifier built from a typed configuration: preprocessing, batching, backend, top-k.

:meth:`Classifier.from_config` (a :class:`~.params.ClassifierConfig`) resolves the weights
(:mod:`.model_source`) and the runtime (:mod:`.backends`) and builds the backend. :meth:`Classifier.classify`
crops and resizes images chunk by chunk while the backend runs the previous chunk
(OpenVINO async requests), then turns logits into top-k
:class:`~workflow.core.results.ClassificationResult`\\ s, per image and per box.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from infer_torchvision_resnext.backends.choice import create_backend, resolve_runtime
from infer_torchvision_resnext.backends.protocol import Backend, Runtime
from infer_torchvision_resnext.int8.select import int8_entry
from infer_torchvision_resnext.model_source import ModelSource, blame, resolve_source, source_identity
from infer_torchvision_resnext.preprocess import preprocess
from infer_torchvision_resnext.recipe import Preprocessing
from infer_torchvision_resnext.roi import Crop, crop_pixels, plan_crops
from workflow.core.results import ClassificationResult, ClassScore

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.params import ClassifierConfig

log = logging.getLogger(__name__)


@dataclass
class ImageClassification:
    """The classes of one image (``whole``, top-k) and of each of its boxes (``boxes``, empty without boxes);
    ``probabilities``: every class's probability for the whole image, in head order."""

    whole: ClassificationResult
    boxes: list[ClassificationResult] = field(default_factory=list)
    probabilities: np.ndarray | None = None


class Classifier:
    """A loaded model with its class names, preprocessing and backend.

    Args:
        source: the weights, class names and preprocessing.
        runtime: the resolved backend/device/precision.
        backend: the running model.
        identity: fingerprint of the files it was loaded from (:func:`.model_source.source_identity`).
        top_k: classes returned per image or box by default.
    """

    def __init__(
        self, source: ModelSource, runtime: Runtime, backend: Backend, identity: str, top_k: int = 5
    ):
        self.source = source
        self.runtime = runtime
        self.backend = backend
        self.identity = identity
        self.top_k = top_k

    @classmethod
    def from_config(
        cls,
        config: ClassifierConfig,
        model_path: str | os.PathLike | None = None,
        *,
        task_id: str = "infer_torchvision_resnext",
    ) -> Classifier:
        """Resolve the weights and the runtime of ``config`` and build the backend (one INFO line).

        Args:
            config: the task's parameters, typed (``InferResnextParams.classifier_config()``).
            model_path: a checkpoint from the ``model`` port; overrides ``model_weight_file``.
            task_id: named in errors and the log line.

        Raises:
            SetupError: weights missing offline, unreadable class file or checkpoint, model_name naming
                another architecture than the checkpoint, a runtime this machine cannot give.
        """
        start = time.perf_counter()
        source = resolve_source(config, model_path, task_id=task_id)
        int8 = int8_entry(config, source, task_id=task_id)
        runtime = resolve_runtime(
            config.device,
            config.precision,
            config.backend,
            task_id=task_id,
            int8_model=str(int8.xml) if int8 else None,
            int8_agreement=int8.agreement if int8 else None,
        )
        with blame(task_id, source.where):
            backend = create_backend(
                source.factory,
                source.prep,
                runtime,
                cache_key=source.cache_key,
                batch_size=config.batch_size,
                num_classes=len(source.class_names),
            )
        log.info(
            "task '%s': loaded %s, %d classes, %dpx, on %s/%s/%s in %.1fs",
            task_id,
            source.description,
            len(source.class_names),
            source.prep.crop_size,
            runtime.backend,
            runtime.device,
            runtime.precision,
            time.perf_counter() - start,
        )
        return cls(source, runtime, backend, source_identity(config, model_path), config.top_k)

    @property
    def class_names(self) -> list[str]:
        """Names of the model's outputs, in head order."""
        return list(self.source.class_names)

    @property
    def preprocessing(self) -> Preprocessing:
        """Resize, crop and mean/std the model expects."""
        return self.source.prep

    @property
    def description(self) -> str:
        """What was loaded, in words (architecture and weights or file)."""
        return self.source.description

    def set_batch_size(self, n: int) -> None:
        """Use ``n`` crops per task batch (rebuilds the backend only when it cannot adapt)."""
        if not self.backend.set_batch_size(n):
            self.backend.close()
            self.backend = create_backend(
                self.source.factory,
                self.source.prep,
                self.runtime,
                cache_key=self.source.cache_key,
                batch_size=n,
                num_classes=len(self.source.class_names),
            )

    def classify(
        self,
        images: Sequence[np.ndarray],
        boxes: Sequence[Sequence | None] | None = None,
        top_k: int | None = None,
    ) -> list[ImageClassification]:
        """Top-k classes of each image, and of each of its boxes in ROI mode.

        Args:
            images: HxWx3 uint8 RGB arrays.
            boxes: per image, (x1, y1, x2, y2) pixel boxes (or None); a box outside the image gets an empty
            result.
            top_k: classes per result (default: the ``top_k`` it was built with).

        Raises:
            InputError: an image that is not HxWx3 uint8 RGB, or an empty one.
        """
        plan = plan_crops(images, boxes)
        wanted = [c for c in plan if not c.empty]
        probs = self._probabilities(images, wanted)
        results = iter(zip(self._top_k(probs, top_k or self.top_k), probs))
        out = [ImageClassification(ClassificationResult([])) for _ in images]
        for crop in plan:
            res, row = (ClassificationResult([]), None) if crop.empty else next(results)
            if crop.box < 0:
                out[crop.item].whole = res
                out[crop.item].probabilities = row
            else:
                out[crop.item].boxes.append(res)
        return out

    def _probabilities(self, images: Sequence[np.ndarray], crops: list[Crop]) -> np.ndarray:
        """Softmax of each crop, preparing the next chunk while the backend runs the previous one."""
        prep = self.source.prep
        if not crops:
            return np.empty((0, len(self.source.class_names)), np.float32)
        size = self.backend.chunk_size(len(crops))

        def chunks() -> Iterator[np.ndarray]:
            for start in range(0, len(crops), size):
                part = crops[start : start + size]
                batch = np.empty((len(part), prep.crop_size, prep.crop_size, 3), np.uint8)
                for j, crop in enumerate(part):
                    batch[j] = preprocess(crop_pixels(images[crop.item], crop.region), prep)
                yield batch

        return softmax(np.concatenate(self.backend.infer_batches(chunks(), len(crops))))

    def _top_k(self, probs: np.ndarray, k: int) -> list[ClassificationResult]:
        names = self.source.class_names
        k = min(k, probs.shape[1])
        if not len(probs):
            return []
        idx = np.argpartition(-probs, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(probs, idx, axis=1).argsort(axis=1)[:, ::-1]
        idx = np.take_along_axis(idx, order, axis=1)
        return [
            ClassificationResult([ClassScore(names[j], int(j), float(row[j])) for j in ids])
            for row, ids in zip(probs, idx)
        ]

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 for stable scores, returned as float32."""
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


__all__ = ["Classifier", "ImageClassification", "softmax"]

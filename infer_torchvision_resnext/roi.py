"""Per-box planning for ROI mode: which crop of which image the classifier sees, and relabelled boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workflow.core.results import ClassificationResult, DetectionsResult

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Crop:
    """One thing to classify: ``box`` -1 is the whole image ``item``, else the index of a box in it.

    ``region`` is the pixel box inside the image (None: the whole image); ``empty`` marks a box
    with nothing of it inside the image (it gets an empty result and is not classified).
    """

    item: int
    box: int
    region: Box | None = None
    empty: bool = False


def plan_crops(images: Sequence[np.ndarray], boxes: Sequence[Sequence | None] | None = None) -> list[Crop]:
    """The whole of each image, then each of its boxes (clipped to the image), in order."""
    plan = []
    for i, image in enumerate(images):
        plan.append(Crop(i, -1))
        for b, box in enumerate((boxes[i] or ()) if boxes is not None else ()):
            region = clip_box(box, image.shape)
            plan.append(Crop(i, b, region, region is None))
    return plan


def clip_box(box, shape) -> Box | None:
    """Integer pixel box inside an image of ``shape`` (corners in any order), or None when nothing of it is
    left."""
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    ix2, iy2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
    return (ix1, iy1, ix2, iy2) if ix2 > ix1 and iy2 > iy1 else None


def crop_pixels(image: np.ndarray, region: Box | None) -> np.ndarray:
    """The pixels of ``region`` (the image itself when None)."""
    if region is None:
        return image
    x1, y1, x2, y2 = region
    return np.ascontiguousarray(image[y1:y2, x1:x2])


def relabelled(dets: DetectionsResult, per_box: list[ClassificationResult]) -> DetectionsResult:
    """A new DetectionsResult: same boxes, labels/scores from each box's top class (kept when the box is
    empty)."""
    labels = [r.top.label if r.top else (dets[i]["label"] or "") for i, r in enumerate(per_box)]
    scores = [r.top.score if r.top else 0.0 for r in per_box]
    return DetectionsResult(dets.boxes, labels, scores, per_box)


__all__ = ["Crop", "plan_crops", "clip_box", "crop_pixels", "relabelled"]

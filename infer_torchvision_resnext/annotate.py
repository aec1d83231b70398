"""Drawing results on images (OpenCV, imported lazily). Images are RGB; the input is never modified."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from infer_torchvision_resnext.roi import relabelled
from workflow.core.imaging import max_image_pixels

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.classifier import ImageClassification
    from workflow.core.results import DetectionsResult

BOX_COLOR = (255, 64, 32)  # RGB
TEXT_COLOR = (255, 255, 255)
TEXT_BG = (32, 32, 32)


def _font_scale(image: np.ndarray) -> float:
    return max(0.35, min(image.shape[:2]) / 700.0)


def _put_label(canvas: np.ndarray, text: str, x: int, y: int, bg=TEXT_BG) -> None:
    """Write ``text`` on a filled rectangle whose top-left corner is (x, y), kept inside the image."""
    import cv2

    scale = _font_scale(canvas)
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    h, w = canvas.shape[:2]
    x = int(min(max(0, x), max(0, w - tw - 4)))
    y = int(min(max(0, y), max(0, h - th - base - 4)))
    cv2.rectangle(canvas, (x, y), (x + tw + 4, y + th + base + 4), bg, -1)
    cv2.putText(
        canvas, text, (x + 2, y + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOR, thick, cv2.LINE_AA
    )


MAX_LABELLED_SIDE = 16384  # enlarged copies stop here (JPEG's limit is 65500; a strip gains nothing from it)


def _readable_copy(image: np.ndarray, min_side: int) -> np.ndarray:
    """A copy of ``image``, enlarged by a whole factor (nearest neighbour) when its shorter side is under
    ``min_side``.

    The enlarged copy keeps to the decoder's pixel budget (:func:`workflow.core.imaging.max_image_pixels`): a
    1x60000
    strip is enlarged only as far as that allows, never ``min_side`` times in both directions.
    """
    h, w = image.shape[:2]
    factor = -(-min_side // max(1, min(h, w)))
    factor = min(
        factor,
        max(1, math.isqrt(max_image_pixels() // max(1, h * w))),
        max(1, MAX_LABELLED_SIDE // max(h, w)),
    )
    if factor <= 1:
        return np.ascontiguousarray(image).copy()
    return np.ascontiguousarray(image.repeat(factor, axis=0).repeat(factor, axis=1))


def draw_labels(image: np.ndarray, lines: Sequence[str], min_side: int = 0) -> np.ndarray:
    """A copy of ``image`` with ``lines`` (e.g. "tabby 0.87") stacked in the top-left corner.

    The copy keeps the input size, unless its shorter side is under ``min_side`` (digits, thumbnails):
    then it is enlarged by a whole factor first so the label stays readable.
    """
    canvas = _readable_copy(image, min_side)
    y = 0
    for text in lines:
        _put_label(canvas, text, 0, y)
        y += int(30 * _font_scale(canvas)) + 6
    return canvas


def draw_boxes(image: np.ndarray, boxes: Sequence[Sequence[float]], texts: Sequence[str]) -> np.ndarray:
    """A copy of ``image`` with each box (x1, y1, x2, y2) outlined and its text above it."""
    import cv2

    canvas = np.ascontiguousarray(image).copy()
    thick = max(1, int(round(_font_scale(canvas) * 2)))
    for (x1, y1, x2, y2), text in zip(boxes, texts):
        cv2.rectangle(canvas, (int(x1), int(y1)), (int(x2), int(y2)), BOX_COLOR, thick)
        if text:
            _put_label(canvas, text, int(x1), int(y1) - int(30 * _font_scale(canvas)), bg=BOX_COLOR)
    return canvas


def item_outputs(
    image: np.ndarray, detections: DetectionsResult | None, found: ImageClassification, min_side: int = 0
) -> dict[str, Any]:
    """The task's outputs for one image: the ``original`` image (the same array, unchanged),
    ``classification``, the annotated ``image`` (a copy, enlarged only to reach ``min_side``) and, in ROI
    mode, the relabelled ``detections`` drawn on it."""
    if detections is None:
        top = found.whole.top
        return {
            "original": image,
            "image": draw_labels(image, [f"{top.label} {top.score:.2f}"] if top else [], min_side),
            "classification": found.whole,
        }
    texts = [f"{r.top.label} {r.top.score:.2f}" if r.top else "" for r in found.boxes]
    return {
        "original": image,
        "detections": relabelled(detections, found.boxes),
        "image": draw_boxes(image, detections.boxes, texts),
        "classification": found.whole,
    }

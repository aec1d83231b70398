"""Result records that flow between tasks: classifications and detections, and their plain forms.

Build them directly::

    ClassificationResult([ClassScore("cat", 281, 0.91), ClassScore("dog", 207, 0.05)])
    DetectionsResult(boxes=[(10, 20, 110, 220)], labels=["cat"], scores=[0.9])

or return the plain forms :func:`as_classification` / :func:`as_detections` accept from a port.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClassScore:
    """One class of a classification: name, index in the model's head, softmax score."""

    label: str
    index: int
    score: float


@dataclass
class ClassificationResult:
    """Top-k classes of one image (or one box), best first."""

    classes: list[ClassScore] = field(default_factory=list)

    @property
    def top(self) -> ClassScore | None:
        return self.classes[0] if self.classes else None

    def __iter__(self):
        return iter(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {"classes": [asdict(c) for c in self.classes]}


@dataclass
class DetectionsResult:
    """Boxes (x1, y1, x2, y2 in pixels) with optional labels, scores and per-box classifications."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    classifications: list[ClassificationResult] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.boxes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "boxes": [list(map(float, b)) for b in self.boxes],
            "labels": list(self.labels),
            "scores": [float(s) for s in self.scores],
            "classifications": [c.to_dict() for c in self.classifications],
        }


def as_classification(value: Any) -> ClassificationResult:
    """``value`` as a ClassificationResult: itself, a list of ClassScore, of ``(label, score)`` or
    ``(label, index, score)`` tuples, or a ``{label: score}`` dict (sorted best first; index -1 when not
    given).

    Raises:
        TypeError: anything else, naming what was expected.
    """
    if isinstance(value, ClassificationResult):
        return value
    items = list(value.items()) if isinstance(value, Mapping) else value
    if isinstance(items, (list, tuple)):
        try:
            scores = [_class_score(item) for item in items]
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"expected a ClassificationResult or a list of ClassScore / (label, score) / "
                f"(label, index, score): {exc}"
            ) from None
        return ClassificationResult(sorted(scores, key=lambda c: -c.score))
    raise TypeError(
        f"expected a ClassificationResult, a list of ClassScore / (label, score) / (label, index, score) "
        f"or a {{label: score}} dict, got {type(value).__name__}"
    )


def _class_score(item: Any) -> ClassScore:
    if isinstance(item, ClassScore):
        return item
    if isinstance(item, (list, tuple)) and len(item) in (2, 3) and isinstance(item[0], str):
        index = int(item[1]) if len(item) == 3 else -1
        return ClassScore(item[0], index, float(item[-1]))
    raise TypeError(f"cannot read a class score from {item!r}")


def as_detections(value: Any) -> DetectionsResult:
    """``value`` as a DetectionsResult: itself, or a list of ``(x1, y1, x2, y2)`` boxes.

    Raises:
        TypeError: anything else.
    """
    if isinstance(value, DetectionsResult):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(b, (list, tuple)) and len(b) == 4 for b in value):
        try:
            return DetectionsResult(boxes=[tuple(float(v) for v in b) for b in value])
        except (TypeError, ValueError):
            pass
    raise TypeError(
        f"expected a DetectionsResult or a list of (x1, y1, x2, y2) boxes, got {type(value).__name__}"
    )

"""Result records that flow between tasks: classifications and detections."""
from __future__ import annotations

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

"""Result records that flow between tasks: classifications and detections, their plain forms and JSON.

Build them directly::

    ClassificationResult([ClassScore("cat", 281, 0.91), ClassScore("dog", 207, 0.05)])
    DetectionsResult(boxes=[(10, 20, 110, 220)], labels=["cat"], scores=[0.9])

or return the plain forms :func:`as_classification` / :func:`as_detections` accept from a port.

Both records are plain ``list`` subclasses holding JSON values, so ``json.dumps(result)`` works
as it is: a classification is its ``[label, index, score]`` triples, best first; detections are
one ``{"box", "label", "score", "classes"}`` dict per box. ``to_dict()`` / ``to_json(options)``
give the named form that results files and the HTTP API use; ``options`` are Ikomia's flat
key/value list (:func:`json_text`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

JSON_FORMATS = ("compact", "indented")
IMAGE_FORMATS = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png"}


class ClassScore(NamedTuple):
    """One class of a classification: name, index in the model's head (-1: unknown), softmax score."""

    label: str
    index: int
    score: float


class ClassificationResult(list):
    """Top-k classes of one image (or one box), best first: a list of :class:`ClassScore`.

    Items are normalised on the way in (``str`` label, ``int`` index, ``float`` score), so numpy
    scalars never reach a JSON encoder.
    """

    def __init__(self, classes: Iterable[Any] = ()):
        super().__init__(_class_score(c) for c in classes)

    @property
    def classes(self) -> list[ClassScore]:
        """The classes, best first (the list itself)."""
        return self

    @property
    def top(self) -> ClassScore | None:
        """The best class, or None when there is none."""
        return self[0] if self else None

    def __repr__(self) -> str:
        return f"ClassificationResult({list.__repr__(self)})"

    def to_dict(self) -> dict[str, Any]:
        """``{"classes": [{"label", "index", "score"}, ...]}``, best first."""
        return {"classes": [c._asdict() for c in self]}

    def to_json(self, options: Sequence[str] | None = None) -> str:
        """:meth:`to_dict` as JSON text; ``options`` as Ikomia's (``["json_format", "indented"]``)."""
        return json_text(self.to_dict(), options)


class DetectionsResult(list):
    """Boxes (x1, y1, x2, y2 in pixels) with optional labels, scores and per-box classifications.

    A list of one dict per box: ``{"box": (x1, y1, x2, y2), "label": str | None, "score": float |
    None, "classes": ClassificationResult | None}``. ``boxes``, ``labels``, ``scores`` and
    ``classifications`` give the columns (labels, scores and classifications only as far as they
    were given).

    Raises:
        TypeError: a box is not four numbers, or there are more labels, scores or classifications
            than boxes.
    """

    def __init__(
        self,
        boxes: Iterable[Sequence[float]] = (),
        labels: Sequence[str] = (),
        scores: Sequence[float] = (),
        classifications: Sequence[Any] = (),
    ):
        boxes = [_box(b) for b in boxes]
        for what, values in (("labels", labels), ("scores", scores), ("classifications", classifications)):
            if len(values) > len(boxes):
                raise TypeError(f"{len(values)} {what} for {len(boxes)} boxes")
        super().__init__(
            {
                "box": box,
                "label": str(labels[i]) if i < len(labels) else None,
                "score": float(scores[i]) if i < len(scores) else None,
                "classes": as_classification(classifications[i]) if i < len(classifications) else None,
            }
            for i, box in enumerate(boxes)
        )

    @property
    def boxes(self) -> list[tuple[float, float, float, float]]:
        return [d["box"] for d in self]

    @property
    def labels(self) -> list[str]:
        return [d["label"] for d in self if d["label"] is not None]

    @property
    def scores(self) -> list[float]:
        return [d["score"] for d in self if d["score"] is not None]

    @property
    def classifications(self) -> list[ClassificationResult]:
        return [d["classes"] for d in self if d["classes"] is not None]

    def __repr__(self) -> str:
        return f"DetectionsResult({list.__repr__(self)})"

    def to_dict(self) -> dict[str, Any]:
        """``{"boxes", "labels", "scores", "classifications"}``: the columns as plain lists."""
        return {
            "boxes": [list(b) for b in self.boxes],
            "labels": self.labels,
            "scores": self.scores,
            "classifications": [c.to_dict() for c in self.classifications],
        }

    def to_json(self, options: Sequence[str] | None = None) -> str:
        """:meth:`to_dict` as JSON text; ``options`` as Ikomia's (``["json_format", "indented"]``)."""
        return json_text(self.to_dict(), options)


def json_options(options: Sequence[str] | None) -> dict[str, str]:
    """Ikomia's ``to_json`` options: a flat list alternating key and value, e.g. ``["json_format",
    "indented", "image_format", "png"]``; returns ``{"json_format", "image_format"}`` with the defaults
    (compact, jpg) filled in.

    Raises:
        ValueError: not a flat list of strings with a value per key, an unknown key or an unknown value.
    """
    out = {"json_format": "compact", "image_format": "jpg"}
    if options is None:
        return out
    if isinstance(options, (str, bytes)) or not all(isinstance(o, str) for o in options):
        raise ValueError(f"to_json options must be a list of strings (key, value, ...), got {options!r}")
    if len(options) % 2:
        raise ValueError(f"to_json options alternate key and value: {options[-1]!r} has no value")
    choices = {"json_format": JSON_FORMATS, "image_format": tuple(IMAGE_FORMATS)}
    for key, value in zip(options[::2], options[1::2]):
        if key not in choices:
            raise ValueError(f"unknown to_json option {key!r}; known: {', '.join(choices)}")
        if value not in choices[key]:
            raise ValueError(
                f"to_json option {key!r} got {value!r}, expected one of {', '.join(choices[key])}"
            )
        out[key] = value
    return out


def json_text(value: Any, options: Sequence[str] | None = None) -> str:
    """``value`` as JSON text: compact (Ikomia's default) or indented, as ``options`` say."""
    if json_options(options)["json_format"] == "indented":
        return json.dumps(value, indent=4)
    return json.dumps(value, separators=(",", ":"))


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
    if isinstance(item, (list, tuple)) and len(item) in (2, 3) and isinstance(item[0], str):
        index = int(item[1]) if len(item) == 3 else -1
        return ClassScore(str(item[0]), index, float(item[-1]))
    raise TypeError(f"cannot read a class score from {item!r}")


def _box(value: Any) -> tuple[float, float, float, float]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 4:
        raise TypeError(f"a box is four numbers (x1, y1, x2, y2), got {value!r}")
    try:
        return tuple(float(v) for v in value)  # type: ignore[return-value]
    except (TypeError, ValueError):
        raise TypeError(f"a box is four numbers (x1, y1, x2, y2), got {value!r}") from None


def as_detections(value: Any) -> DetectionsResult:
    """``value`` as a DetectionsResult: itself, or a list of ``(x1, y1, x2, y2)`` boxes.

    Raises:
        TypeError: anything else.
    """
    if isinstance(value, DetectionsResult):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(b, (list, tuple)) and len(b) == 4 for b in value):
        return DetectionsResult(boxes=value)
    raise TypeError(
        f"expected a DetectionsResult or a list of (x1, y1, x2, y2) boxes, got {type(value).__name__}"
    )

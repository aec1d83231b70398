"""Port data types and their compatibility rules.

A port type is a class; a port accepts data whose type is the same class or a
subclass (an ``AnnotatedImage`` is an ``Image``). The payloads themselves are
plain values: numpy arrays for images, the records of :mod:`workflow.core.results`
for classifications and detections, :class:`pathlib.Path` for files.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any, ClassVar

from workflow.core.errors import PortError, did_you_mean


class DataType:
    """Root of the port type tree: accepts any payload."""

    label: ClassVar[str] = "any"

    @classmethod
    def accepts(cls, other: type[DataType]) -> bool:
        """True when data of type ``other`` may flow into a port of this type."""
        return issubclass(other, cls)

    @classmethod
    def check(cls, value: Any) -> Any:
        """Validate (and normalise) a payload; raise ``TypeError`` when it does not fit."""
        return value

    @classmethod
    def to_jsonable(cls, value: Any) -> Any:
        """A JSON-serialisable view of a payload (used for results files)."""
        if hasattr(value, "to_dict"):
            return value.to_dict()
        if isinstance(value, pathlib.Path):
            return str(value)
        return value

    columns: ClassVar[tuple[str, ...]] = (
        "value",
    )  # the keys to_row() gives: results.csv's header comes from them

    @classmethod
    def to_row(cls, value: Any) -> dict[str, Any]:
        """Flat scalar columns for a results CSV: a scalar as ``value``, anything else as JSON text."""
        if value is None:
            return {}
        if isinstance(value, (str, int, float, bool)):
            return {"value": value}
        import json

        return {"value": json.dumps(cls.to_jsonable(value), default=str, sort_keys=True)}


class Image(DataType):
    """An image: ``numpy.ndarray`` of shape HxWx3, uint8, RGB channel order."""

    label = "image"
    columns = ()

    @classmethod
    def check(cls, value: Any) -> Any:
        import numpy as np

        if not isinstance(value, np.ndarray):
            raise TypeError(f"expected a numpy array, got {type(value).__name__}")
        if value.ndim != 3 or value.shape[2] != 3 or value.dtype != np.uint8:
            raise TypeError(f"expected an HxWx3 uint8 RGB array, got shape {value.shape} dtype {value.dtype}")
        return value

    @classmethod
    def to_jsonable(cls, value: Any) -> Any:
        return {"shape": list(value.shape)}

    @classmethod
    def to_row(cls, value: Any) -> dict[str, Any]:
        """Images get no CSV columns (runners save them as files)."""
        return {}


class AnnotatedImage(Image):
    """An image with graphics drawn on it (labels, boxes)."""

    label = "annotated_image"


class Classification(DataType):
    """Top-k class scores, best first: a :class:`workflow.core.results.ClassificationResult`.

    Also accepted (and converted): a list of ``ClassScore``, of ``(label, score)`` or
    ``(label, index, score)`` tuples, or a ``{label: score}`` dict; sorted best first,
    index -1 where none is given.
    """

    label = "classification"
    columns = ("label", "score", "top_k")

    @classmethod
    def check(cls, value: Any) -> Any:
        from workflow.core.results import as_classification

        return as_classification(value)

    @classmethod
    def to_row(cls, value: Any) -> dict[str, Any]:
        """``label``, ``score`` of the best class and ``top_k`` as ``"a:0.9100;b:0.0500"``."""
        if value is None or not value.classes:
            return {}
        top = value.classes[0]
        return {
            "label": top.label,
            "score": float(top.score),
            "top_k": ";".join(f"{c.label}:{float(c.score):.4f}" for c in value.classes),
        }


class Detections(DataType):
    """Boxes with labels and scores: a :class:`workflow.core.results.DetectionsResult`.

    Also accepted: a list of ``(x1, y1, x2, y2)`` boxes (no labels, no scores).
    """

    label = "detections"
    columns = ("count", "boxes")

    @classmethod
    def check(cls, value: Any) -> Any:
        from workflow.core.results import as_detections

        return as_detections(value)

    @classmethod
    def to_row(cls, value: Any) -> dict[str, Any]:
        """``count`` of boxes and ``boxes`` as ``"label:score@x1,y1,x2,y2;..."``."""
        if value is None:
            return {}
        parts = []
        for i, box in enumerate(value.boxes):
            label = value.labels[i] if i < len(value.labels) else ""
            score = f":{float(value.scores[i]):.4f}" if i < len(value.scores) else ""
            parts.append(f"{label}{score}@{','.join(f'{float(v):g}' for v in box)}")
        return {"count": len(value.boxes), "boxes": ";".join(parts)}


class Path(DataType):
    """A file or folder path (:class:`pathlib.Path`)."""

    label = "path"

    @classmethod
    def check(cls, value: Any) -> Any:
        if not isinstance(value, (str, pathlib.PurePath)):
            raise TypeError(f"expected a path, got {type(value).__name__}")
        return pathlib.Path(value)

    @classmethod
    def to_row(cls, value: Any) -> dict[str, Any]:
        return {} if value is None else {"value": str(value)}


class Dataset(Path):
    """A dataset folder (image-folder layout)."""

    label = "dataset"


class Model(Path):
    """A model checkpoint file."""

    label = "model"


class Table(DataType):
    """A table: a list of row dicts (e.g. per-epoch metrics)."""

    label = "table"
    columns = ("rows",)

    @classmethod
    def check(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise TypeError(f"expected a list of rows, got {type(value).__name__}")
        return value

    @classmethod
    def to_row(cls, value: Any) -> dict[str, Any]:
        """The number of rows (the rows themselves go to the JSON results)."""
        return {} if value is None else {"rows": len(value)}


DATA_TYPES: dict[str, type[DataType]] = {
    t.label: t
    for t in (DataType, Image, AnnotatedImage, Classification, Detections, Path, Dataset, Model, Table)
}


def resolve_data_type(name: str) -> type[DataType]:
    """Look up a port type by its label (``image``, ``model``...), as written in pipeline files."""
    try:
        return DATA_TYPES[name]
    except KeyError:
        hint = did_you_mean(name, DATA_TYPES)
        raise PortError(f"unknown data type '{name}'{hint}; known: {', '.join(sorted(DATA_TYPES))}") from None


@dataclass(frozen=True)
class Port:
    """A named, typed input or output of a task.

    ``optional``: an input that may stay unconnected, or an output a task may leave empty.
    ``forwards``: on an output, the input port whose value it passes on unchanged (Ikomia's classifiers
    forward their input image on output 0); runs do not save such an output again as a file.
    """

    name: str
    type: type[DataType]
    optional: bool = False
    description: str = ""
    forwards: str = ""

    def describe(self) -> str:
        opt = ", optional" if self.optional else ""
        doc = f": {self.description}" if self.description else ""
        return f"{self.name} ({self.type.label}{opt}){doc}"

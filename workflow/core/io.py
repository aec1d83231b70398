"""IO objects: what ``task.get_input(i)`` / ``task.get_output(i)`` return, as in Ikomia.

An IO object is a thin handle bound to one port of one task: it holds no data of its own,
so it always shows the task's current value, and writing through it writes to the task.
Every IO object has ``data`` (the typed raw value: a numpy array, a result record, a path),
``name``, ``data_type``, ``is_data_available()``, ``clear_data()``, ``to_dict()`` and
``to_json(options)`` (Ikomia's flat option list, e.g. ``["json_format", "indented"]``).
The class follows the port's data type, the most specific one registered wins:

- ``Image`` (and ``AnnotatedImage``): :class:`ImageIO`, ``get_image()`` / ``set_image()``,
  JSON ``{"image": "<base64 jpg|png>"}``;
- ``Detections``: :class:`ObjectDetectionIO`, ``get_objects()`` as Ikomia's objects (box
  ``[x, y, width, height]``), JSON ``{"detections": [...], "referenceImageIndex": 0}``;
- ``Classification``: :class:`ClassificationIO`, JSON as Ikomia's numeric table;
- ``Path`` (``Dataset``, ``Model``): :class:`PathIO`, ``get_path()`` / ``set_path()``;
- ``Table``: :class:`TableIO`, JSON ``{"rows": [...]}``;
- any other type (a plugin's own): :class:`TaskIO`, JSON ``{"data": ...}``.

A plugin may give its own data type a richer IO class with :func:`register_io`.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workflow.core.errors import PortError
from workflow.core.ports import Classification, DataType, Detections, Image, Path, Port, Table
from workflow.core.results import IMAGE_FORMATS, json_options, json_text

if TYPE_CHECKING:
    from workflow.core.task import Task

INPUT, OUTPUT = "input", "output"


class TaskIO:
    """One port of one task, as Ikomia's IO objects show it (base class: any data type).

    Args:
        task: the task the port belongs to.
        port: the port.
        kind: ``"input"`` or ``"output"``.
    """

    def __init__(self, task: Task, port: Port, kind: str):
        if kind not in (INPUT, OUTPUT):
            raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
        self._task = task
        self._port = port
        self._kind = kind

    @property
    def name(self) -> str:
        """The port's name."""
        return self._port.name

    @property
    def data_type(self) -> type[DataType]:
        """The port's data type (a :class:`~workflow.core.ports.DataType` class)."""
        return self._port.type

    @property
    def description(self) -> str:
        return self._port.description

    @property
    def port(self) -> Port:
        return self._port

    @property
    def data(self) -> Any:
        """The raw value (None when empty).

        Raises:
            PortError: reading a required input that holds no data, naming the task and the port.
        """
        value = self._value()
        if value is None and self._kind == INPUT and not self._port.optional:
            raise PortError(
                f"task '{self._task.id}': required input '{self.name}' ({self.data_type.label}) has no data"
            )
        return value

    @data.setter
    def data(self, value: Any) -> None:
        """Set the raw value, checked against the port's type (None clears it)."""
        if self._kind == INPUT:
            self._task.set_input(self.name, value)
        elif value is None:
            self.clear_data()
        else:
            self._task.set_output(self.name, value)

    def is_data_available(self) -> bool:
        return self._value() is not None

    def clear_data(self) -> None:
        self._task.port_values(self._kind).pop(self.name, None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the data (``{"data": ...}`` for the base class; None when empty)."""
        value = self._value()
        return {"data": None if value is None else self.data_type.to_jsonable(value)}

    def to_json(self, options: Sequence[str] | None = None) -> str:
        """:meth:`to_dict` as JSON text; ``options`` alternate key and value: ``["json_format",
        "compact" | "indented"]`` (compact by default), and for images ``["image_format", "jpg" | "png"]``.

        Raises:
            ValueError: malformed options, naming the culprit.
        """
        json_options(options)  # checked even where they change nothing
        return json_text(self.to_dict(), options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.data_type.label}, {self._summary()})"

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        raise AttributeError(
            f"{type(self).__name__} ({self._kind} '{self.name}' of task '{self._task.id}') has no attribute "
            f"{attr!r}; the raw value is .data"
        )

    def _value(self) -> Any:
        return self._task.port_values(self._kind).get(self.name)

    def _summary(self) -> str:
        value = self._value()
        if value is None:
            return "no data"
        if hasattr(value, "__len__") and not isinstance(value, str):
            return f"{type(value).__name__} of {len(value)}"
        return repr(value) if len(repr(value)) <= 60 else type(value).__name__


class ImageIO(TaskIO):
    """An image port (HxWx3 uint8 RGB numpy array)."""

    def get_image(self) -> Any:
        """The image array (None on an empty output; reading an empty required input raises PortError)."""
        return self.data

    def set_image(self, image: Any) -> None:
        """Put ``image`` on the port (checked: HxWx3 uint8 RGB)."""
        self.data = image

    def get_channel_count(self) -> int:
        value = self._value()
        return 0 if value is None else int(value.shape[2]) if value.ndim == 3 else 1

    def to_dict(self, image_format: str = "jpg") -> dict[str, Any]:
        """``{"image": base64 of the JPEG (or PNG) file}``, ``""`` when empty (Ikomia's CImageIO)."""
        from workflow.core.imaging import encode_image

        value = self._value()
        if value is None:
            return {"image": ""}
        return {"image": base64.b64encode(encode_image(value, IMAGE_FORMATS[image_format])).decode("ascii")}

    def to_json(self, options: Sequence[str] | None = None) -> str:
        return json_text(self.to_dict(json_options(options)["image_format"]), options)

    def _summary(self) -> str:
        value = self._value()
        return "no data" if value is None else "x".join(map(str, value.shape))


@dataclass(frozen=True)
class ObjectDetection:
    """One detected object as Ikomia gives it: ``box`` is ``[x, y, width, height]``, ``color`` ``[r, g, b]``;
    ``confidence`` is None when the detector gave no score."""

    id: int
    label: str
    confidence: float | None
    box: list[float]
    color: list[int]

    def to_dict(self) -> dict[str, Any]:
        x, y, w, h = self.box
        r, g, b = self.color
        return {
            "id": self.id,
            "label": self.label,
            "confidence": self.confidence,
            "box": {"x": x, "y": y, "width": w, "height": h},
            "color": {"r": r, "g": g, "b": b, "a": 255},
        }


class ObjectDetectionIO(TaskIO):
    """A detections port (:class:`~workflow.core.results.DetectionsResult`), read as Ikomia's objects."""

    def get_objects(self) -> list[ObjectDetection]:
        """One object per box, in order (id = position); ``[]`` when the port is empty."""
        value = self._value()
        if value is None:
            return []
        return [
            ObjectDetection(
                id=i,
                label=det["label"] or "",
                confidence=det["score"],
                box=[
                    det["box"][0],
                    det["box"][1],
                    det["box"][2] - det["box"][0],
                    det["box"][3] - det["box"][1],
                ],
                color=label_color(det["label"] or ""),
            )
            for i, det in enumerate(value)
        ]

    def get_object_count(self) -> int:
        value = self._value()
        return 0 if value is None else len(value)

    def to_dict(self) -> dict[str, Any]:
        """``{"detections": [{"id", "label", "confidence", "box": {x, y, width, height}, "color": {r, g, b,
        a}}], "referenceImageIndex": 0}`` (Ikomia's CObjectDetectionIO)."""
        return {"detections": [o.to_dict() for o in self.get_objects()], "referenceImageIndex": 0}


class ClassificationIO(TaskIO):
    """A classification port (:class:`~workflow.core.results.ClassificationResult`), as Ikomia's numeric
    table: one column "Confidence", the class names as row labels, best first."""

    def get_names(self) -> list[str]:
        """The class names held, best first."""
        value = self._value()
        return [] if value is None else [c.label for c in value]

    def get_values(self) -> list[str]:
        """The confidences held, best first, as strings (Ikomia's table holds strings)."""
        value = self._value()
        return [] if value is None else [str(float(c.score)) for c in value]

    def to_dict(self) -> dict[str, Any]:
        """``{"outputType": 2 (table), "plotType": 0, "headers": ["Confidence"], "valueLabels": [[names]],
        "values": [[confidences as strings]]}``; empty lists when the port is empty."""
        held = self._value() is not None
        return {
            "outputType": 2,
            "plotType": 0,
            "headers": ["Confidence"] if held else [],
            "valueLabels": [self.get_names()] if held else [],
            "values": [self.get_values()] if held else [],
        }


class PathIO(TaskIO):
    """A file or folder port (``Path``, ``Dataset``, ``Model``)."""

    def get_path(self) -> str:
        """The path as a string, ``""`` when the port is empty (reading an empty required input raises)."""
        value = self.data
        return "" if value is None else str(value)

    def set_path(self, path: str) -> None:
        """Put ``path`` on the port (``""`` clears it)."""
        self.data = path if path != "" else None

    def to_dict(self) -> dict[str, Any]:
        value = self._value()
        return {"path": "" if value is None else str(value)}

    def _summary(self) -> str:
        value = self._value()
        return "no data" if value is None else str(value)


class TableIO(TaskIO):
    """A table port: a list of row dicts."""

    def get_rows(self) -> list[dict[str, Any]]:
        value = self._value()
        return [] if value is None else list(value)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.get_rows()}


_IO_CLASSES: dict[type[DataType], type[TaskIO]] = {
    Image: ImageIO,
    Detections: ObjectDetectionIO,
    Classification: ClassificationIO,
    Path: PathIO,
    Table: TableIO,
}


def register_io(data_type: type[DataType], io_class: type[TaskIO]) -> None:
    """Use ``io_class`` for ports of ``data_type`` and its subclasses (unless a subclass has its own).

    Raises:
        TypeError: ``data_type`` is not a DataType class or ``io_class`` not a TaskIO class.
    """
    if not (isinstance(data_type, type) and issubclass(data_type, DataType)):
        raise TypeError(f"register_io: {data_type!r} is not a DataType class")
    if not (isinstance(io_class, type) and issubclass(io_class, TaskIO)):
        raise TypeError(f"register_io: {io_class!r} is not a TaskIO class")
    _IO_CLASSES[data_type] = io_class


def io_class(data_type: type[DataType]) -> type[TaskIO]:
    """The IO class of ``data_type``: the one registered for it or its nearest ancestor, else TaskIO."""
    for klass in data_type.__mro__:
        if klass in _IO_CLASSES:
            return _IO_CLASSES[klass]
    return TaskIO


def make_io(task: Task, port: Port, kind: str) -> TaskIO:
    """The IO object of ``port`` (an ``"input"`` or ``"output"`` of ``task``)."""
    return io_class(port.type)(task, port, kind)


_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (170, 110, 40),
]


def label_color(label: str) -> list[int]:
    """A colour per label, the same in every run (Ikomia gives each class a colour)."""
    return list(_PALETTE[zlib.crc32(label.encode("utf-8")) % len(_PALETTE)])


__all__ = [
    "ClassificationIO",
    "ImageIO",
    "ObjectDetection",
    "ObjectDetectionIO",
    "PathIO",
    "TableIO",
    "TaskIO",
    "io_class",
    "label_color",
    "make_io",
    "register_io",
]

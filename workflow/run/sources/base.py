"""The Source interface: what a run reads its items (images, frames) from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Item:
    """One image or frame on its way through a run.

    Attributes:
        key: the row's identity in the results (``{"path": ...}``, plus ``"frame"`` for videos).
        name: relative file name, used to name saved images.
        image: the decoded HxWx3 uint8 RGB array (None when there is none or decoding failed).
        error: why the item could not be read (the run records it and carries on).
    """

    key: dict[str, Any]
    name: str
    image: Any = None
    error: str | None = None


class Source:
    """Items for one run, yielded in order by :meth:`items`.

    Listing (and any check of the source) happens at construction; decoding starts
    only when :meth:`items` is iterated, so the runner can prepare the tasks first.

    Attributes:
        key_fields: the columns that identify a results row.
        strict: a bad item is an error that stops the run (single images) rather than a failed row.
        unit: what one item is, for progress bars ("img", "frame"); None hides the bar.
        path: the input file or folder (never overwritten by saved outputs), or None.
        as_video: image outputs are written as one video (frames), not one file per item.
    """

    key_fields: tuple[str, ...] = ("path",)
    strict: bool = False
    unit: str | None = None
    path: Path | None = None
    as_video: bool = False

    def total(self) -> int | None:
        """How many items :meth:`items` will yield (None when unknown)."""
        return None

    def drop(self, done: set[tuple]) -> int:
        """Leave out the items whose key is in ``done`` (a resumed run); returns how many. Default: none."""
        return 0

    def owns(self, key: tuple) -> bool:
        """Whether a results row with this key belongs to this source (resume carries only those over)."""
        return False

    def describe(self) -> dict[str, Any]:
        """The ``source`` entry of report.json."""
        return {}

    def items(self, min_side: int | None = None) -> Iterator[Item]:
        """Yield the items, images decoded at full size (what the tasks' ports carry), or for big JPEGs at
        reduced scale down to ``min_side`` when the run allows it (a folder run that saves no image)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement items()")

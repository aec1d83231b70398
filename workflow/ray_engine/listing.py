"""The files of a Ray folder run: a local folder (listed like a local run) or any ``scheme://`` location
pyarrow opens.

The driver lists and sorts the files (hidden ones skipped); each actor opens the same
location with :func:`open_location` and reads only the files of its own batches, so no
image passes through the driver. On a cluster, ``s3://``, ``gs://``, ``abfs://`` or ``hdfs://``
locations are read by every node; a local folder must be visible to every node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError
from workflow.core.imaging import IMAGE_EXTS
from workflow.run.sources.base import Item, Source
from workflow.run.sources.folder import FolderSource

MAX_FILES = 10_000_000  # a listing beyond this is refused rather than held in memory


def is_uri(folder: str) -> bool:
    """A location with a scheme (``s3://``, ``gs://``, ``file://``...), read through pyarrow's file
    systems."""
    return "://" in folder


def open_location(folder: str) -> tuple[Any, str]:
    """``(pyarrow file system, base path)`` of ``folder`` (a local path or a ``scheme://`` location).

    Raises:
        InputError: the scheme is unknown or the location cannot be reached.
    """
    import pyarrow.fs as pafs

    try:
        return (
            pafs.FileSystem.from_uri(folder)
            if is_uri(folder)
            else (pafs.LocalFileSystem(), str(Path(folder).resolve()))
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder}: cannot open ({exc})") from None


class LocationSource(Source):
    """Every image below a ``scheme://`` location, sorted by relative path (listing only: actors read the
    files)."""

    unit = "img"

    def __init__(self, location: str):
        import pyarrow.fs as pafs

        self.location = location
        fs, base = open_location(location)
        try:
            infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
        except (OSError, ValueError) as exc:
            raise InputError(f"{location}: cannot list ({exc})") from None
        if len(infos) > MAX_FILES:
            raise InputError(f"{location}: more than {MAX_FILES} entries; split it into several runs")
        rels = [info.path[len(base) :].lstrip("/") for info in infos if info.type == pafs.FileType.File]
        self.names = sorted(
            (
                r
                for r in rels
                if os.path.splitext(r)[1].lower() in IMAGE_EXTS
                and not any(part.startswith(".") for part in r.split("/"))
            ),
            key=lambda r: r.split("/"),
        )
        self.count, self._keys = len(self.names), {(r,) for r in self.names}

    def total(self) -> int:
        return len(self.names)

    def owns(self, key: tuple) -> bool:
        return key in self._keys

    def drop(self, done: set[tuple]) -> int:
        before = len(self.names)
        self.names = [r for r in self.names if (r,) not in done]
        return before - len(self.names)

    def describe(self) -> dict[str, Any]:
        return {"folder": self.location, "files": self.count}

    def items(self, min_side: int | None) -> Iterator[Item]:
        raise NotImplementedError("a Ray run reads the files in its actors")


def folder_source(folder: str, output_dir: Path) -> Source:
    """The local folder's :class:`FolderSource` (same listing as a local run), or a
    :class:`LocationSource`."""
    return LocationSource(folder) if is_uri(folder) else FolderSource(folder, output_dir)


def location_of(source: Source) -> str:
    """Where the actors read the files of ``source`` from."""
    return source.location if isinstance(source, LocationSource) else str(source.path)


def todo_names(source: Source) -> list[str]:
    """The relative paths still to do, in order."""
    if isinstance(source, FolderSource):
        return [source.rel[p] for p in source.todo]
    return list(source.names)

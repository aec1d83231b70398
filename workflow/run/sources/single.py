"""Sources of one item: an image file, an array, an image url, or no image at all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workflow.core.imaging import load_image
from workflow.run.sources.base import Item, Source
from workflow.run.sources.urls import load_url, url_file_name


class PathSource(Source):
    """One image file; a bad file is an error (``strict``)."""

    strict = True

    def __init__(self, path: str | os.PathLike):
        self.file = Path(path)
        self.path = self.file.resolve()

    def total(self) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.file)}

    def items(self, min_side: int | None = None) -> Iterator[Item]:  # one image: always full size
        yield Item({"path": self.file.name}, self.file.name, image=load_image(self.file))


class ArraySource(Source):
    """One image given as an array (named ``array.png`` in the results)."""

    strict = True

    def __init__(self, array: Any):
        self.array = array

    def total(self) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"array": "array.png"}

    def items(self, min_side: int | None = None) -> Iterator[Item]:  # one image: always full size
        yield Item({"path": "array.png"}, "array.png", image=self.array)


class UrlSource(Source):
    """One image fetched from an http(s) url (see :func:`workflow.run.sources.urls.fetch_url` for the
    limits)."""

    strict = True

    def __init__(self, url: str):
        self.url = url

    def total(self) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"url": self.url}

    def items(self, min_side: int | None = None) -> Iterator[Item]:  # one image: always full size
        name = url_file_name(self.url)
        yield Item({"path": name}, name, image=load_url(self.url))


class NoImageSource(Source):
    """One item without an image, for workflows that take none (e.g. training alone)."""

    strict = True
    key_fields = ()

    def __init__(self, name: str, inputs: list[str]):
        self.name, self.inputs = name, inputs

    def total(self) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"inputs": sorted(self.inputs)}

    def items(self, min_side: int | None = None) -> Iterator[Item]:  # one image: always full size
        yield Item({}, self.name)

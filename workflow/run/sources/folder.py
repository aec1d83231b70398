"""A folder of images as a source: listed once, sharded across ranks, decoded ahead in threads."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError
from workflow.core.imaging import load_image
from workflow.run.sources.base import Item, Source
from workflow.run.sources.listing import iter_files
from workflow.run.sources.threads import prefetch

log = logging.getLogger(__name__)


class FolderSource(Source):
    """Every image below ``folder`` (recursive, sorted by relative path); a bad file is a failed row.

    Args:
        folder: the input folder.
        output_dir: the run's output folder (absolute) or None; images inside it are skipped.
        rank, world_size: under torchrun each rank takes ``files[rank::world_size]``.
        workers: decoding threads; ``window``: items decoded ahead of the consumer.

    Raises:
        InputError: ``folder`` is not a folder, or is the output folder itself.
    """

    unit = "img"

    def __init__(
        self,
        folder: str | os.PathLike,
        output_dir: Path | None = None,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 1,
        window: int = 2,
    ):
        self.folder = Path(folder)
        root = self.path = self.folder.resolve()
        if output_dir is not None and output_dir == root:
            raise InputError(
                f"{folder}: the output folder must differ from the input folder "
                "(saved images would overwrite inputs)"
            )
        files = iter_files(root)
        if output_dir is not None and output_dir.is_relative_to(root):
            kept = [p for p in files if not p.is_relative_to(output_dir)]
            if len(kept) < len(files):
                log.warning(
                    "skipping %d image(s) inside the output folder %s", len(files) - len(kept), output_dir
                )
            files = kept
        self.count, self.rank, self.world_size = len(files), rank, world_size
        self.workers, self.window = workers, window
        self.rel = {p: p.relative_to(root).as_posix() for p in files[rank::world_size]}
        self.todo = list(self.rel)
        self._keys = {(r,) for r in self.rel.values()}

    def total(self) -> int:
        return len(self.todo)

    def owns(self, key: tuple) -> bool:
        return key in self._keys

    def drop(self, done: set[tuple]) -> int:
        before = len(self.todo)
        self.todo = [p for p in self.todo if (self.rel[p],) not in done]
        return before - len(self.todo)

    def describe(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "files": self.count,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def items(self, min_side: int | None = None) -> Iterator[Item]:
        def decode(p: Path) -> Item:
            item = Item({"path": self.rel[p]}, self.rel[p])
            try:
                item.image = load_image(p, min_side=min_side)
            except InputError as exc:
                item.error = str(exc).removeprefix(f"{p}: ")  # the row's path already names the file
            except Exception as exc:  # an unexpected decoder failure is still one bad file
                item.error = f"{type(exc).__name__}: {exc}"
            return item

        return prefetch(decode, self.todo, self.window, self.workers)

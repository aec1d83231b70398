"""Listing the image files of a folder (recursive, sorted, hidden entries skipped)."""

from __future__ import annotations

import os
from pathlib import Path

from workflow.core.errors import InputError
from workflow.core.imaging import IMAGE_EXTS
from workflow.run.sources.video import VIDEO_EXTS


def iter_files(
    folder: str | os.PathLike, exts: frozenset[str] | set[str] | None = None, include_video: bool = False
) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted by their relative path.

    Hidden files and folders (starting with ``.``) are skipped; folder symlinks are not followed.

    Raises:
        InputError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    wanted = {e.lower() for e in (exts or IMAGE_EXTS)} | (set(VIDEO_EXTS) if include_video else set())
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fname in filenames:
            if not fname.startswith(".") and os.path.splitext(fname)[1].lower() in wanted:
                found.append(Path(dirpath) / fname)
    return sorted(found, key=lambda p: p.relative_to(root).parts)

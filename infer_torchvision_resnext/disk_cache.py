"""Where this plugin caches what it derives from weights (OpenVINO IR, INT8 models, architecture shapes), and
keeping each cache to its most recently used entries.

An entry is a folder; using it sets its modification time (:func:`touch`), and :func:`prune` deletes
all but the most recently used. Folders still being written (``.tmp-`` in the name) or being replaced
(``.old-``) are never entries.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def cache_root() -> Path:
    """``$WORKFLOW_CACHE_DIR`` or ``$XDG_CACHE_HOME/cv-workflow`` (default ``~/.cache/cv-workflow``)."""
    env = os.environ.get("WORKFLOW_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cv-workflow"


def is_entry(folder: Path) -> bool:
    """True for a complete entry folder (not one still being written or replaced)."""
    return folder.is_dir() and ".tmp-" not in folder.name and ".old-" not in folder.name


def touch(folder: Path) -> None:
    """Mark a cache entry as just used (a read-only cache keeps its order: said at DEBUG)."""
    try:
        os.utime(folder)
    except OSError as exc:
        log.debug("cache entry %s not marked as used: %s", folder, exc)


def prune(root: Path, keep: int, *, depth: int = 1, what: str = "cache") -> list[Path]:
    """Delete all but the ``keep`` most recently used entries under ``root`` and return the deleted ones.

    Args:
        root: the cache folder.
        keep: entries kept.
        depth: how deep entries lie (1: ``root/<key>``; 2: ``root/<group>/<key>``).
        what: the cache's name in the log line of each deletion.
    """
    if not root.is_dir():
        return []
    entries = [p for p in root.iterdir() if p.is_dir()]
    for _ in range(depth - 1):
        entries = [p for group in entries for p in group.iterdir() if p.is_dir()]
    used = []
    for entry in filter(is_entry, entries):
        try:
            used.append((entry.stat().st_mtime, entry))
        except FileNotFoundError:  # deleted meanwhile by another process pruning the same cache
            continue
    used.sort(reverse=True)
    removed = [entry for _, entry in used[keep:]]
    for old in removed:
        shutil.rmtree(old, ignore_errors=True)
        log.info("%s: removed least recently used %s", what, old.relative_to(root))
    return removed

"""File helpers every layer and plugin uses: atomic writes, JSON text, safe output names.

One way to write a file that readers never see half-written: write a temporary
file created exclusively (``O_EXCL``, never following a symlink planted at its
name) in the destination folder, then ``os.replace`` it over the target.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from workflow.errors import WorkflowError

_ODD = re.compile(r"[^\w.\- ()+,@=~]")
_UMASK = os.umask(0)  # read once at import (os.umask can only be read by setting it)
os.umask(_UMASK)


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it replaces ``path``, on failure it is removed.

    Use it for writers that want a file name (``torch.save``, ``PIL.Image.save``)::

        with atomic_target(out / "best.pt") as tmp:
            torch.save(payload, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; the target gets the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes through a temporary file and a rename (readers never see half a file)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text through a temporary file and a rename (readers never see half a file)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(value: Any) -> str:
    """Indented JSON text (non-JSON values as ``str``), ending with a newline."""
    return json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n"


def safe_relpath(name: str, max_part: int = 120) -> PurePosixPath:
    """A relative path made from ``name`` that cannot leave the folder it is joined to.

    Drops empty, ``.`` and ``..`` parts and drive/root prefixes, turns ``\\`` into ``/``, replaces
    control and shell-odd characters by ``_`` and shortens long parts. Never empty.
    """
    parts = []
    raw = str(name).replace("\\", "/").split("/")
    if re.fullmatch(r"[A-Za-z]:", raw[0]):  # a Windows drive such as "C:"
        raw = raw[1:]
    for part in raw:
        part = _ODD.sub("_", part).strip(" ")
        if part in ("", ".", "..") or set(part) == {"."}:
            continue
        if len(part) > max_part:
            stem, dot, ext = part.rpartition(".")
            part = (stem[: max_part - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else part[:max_part]
        parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath("_")


def output_path(output_dir: str | os.PathLike, name: str, suffix: str | None = None) -> Path:
    """``output_dir / safe_relpath(name)`` (with ``suffix`` replacing the extension), checked to stay inside.

    Raises:
        WorkflowError: the result would resolve outside ``output_dir`` (e.g. through a symlink).
    """
    rel = safe_relpath(name)
    if suffix is not None:
        rel = rel.with_suffix(suffix) if rel.suffix else rel.with_name(rel.name + suffix)
    root = Path(output_dir).resolve()
    path = root.joinpath(*rel.parts)
    resolved = path.resolve()
    if os.path.commonpath([root, resolved]) != str(root):
        raise WorkflowError(f"{name}: output file would be written outside {output_dir}")
    return path

"""File helpers every layer and plugin uses: atomic writes, JSON text, safe output names.

One way to write a file that readers never see half-written: write a temporary
file created exclusively (``O_EXCL``, never following a symlink planted at its
name) in the destination folder, then ``os.replace`` it over the target.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from workflow.core.errors import SetupError, WorkflowError

_ODD = re.compile(r"[^\w.\- ()+,@=~]")
_UMASK = os.umask(0)  # read once at import (os.umask can only be read by setting it)
os.umask(_UMASK)


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it replaces ``path``, on failure it is
    removed.

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


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def check_disk_full(exc: OSError, path: str | os.PathLike) -> None:
    """Raise :class:`~workflow.core.errors.SetupError` naming ``path`` when ``exc`` means the disk (or quota,
    or
    file-size limit) is full: no later item could be written either, so the run must stop, not skip the item."""
    if exc.errno in DISK_FULL_ERRNOS:
        raise SetupError(
            f"{path}: cannot write ({exc.strerror or os.strerror(exc.errno)}); "
            f"free some space and resume the run"
        ) from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes through a temporary file and a rename (readers never see half a file)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text through a temporary file and a rename (readers never see half a file)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(value: Any) -> str:
    """Indented JSON text (non-JSON values as ``str``), ending with a newline; always encodable as UTF-8."""
    return escape_json_text(json.dumps(value, indent=2, default=str, ensure_ascii=False)) + "\n"


def json_line(value: Any) -> str:
    """One-line JSON text (non-JSON values as ``str``), without a newline: safe in a JSON Lines file."""
    return escape_json_text(json.dumps(value, default=str, ensure_ascii=False))


_JSON_UNSAFE = re.compile("[\ud800-\udfff\u2028\u2029\x85]")


def escape_json_text(text: str) -> str:
    """JSON text with lone surrogates (file names that are not UTF-8) and line separators written as
    ``\\uXXXX``.

    Only valid inside JSON strings, where these characters can only appear; the result encodes as UTF-8 and
    splits into lines only at real newlines, and ``json.loads`` gives back the same strings.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_LINE_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")
_LINE_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape): \xNN, NN >= 80
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def escape_line_text(text: str) -> str:
    """``text`` as one line of UTF-8 text: ``\\``, control characters, line separators and bytes that are not
    UTF-8 become ``\\\\``, ``\\xNN`` or ``\\uNNNN`` (:func:`unescape_line_text` gives back the same string)."""
    return _LINE_UNSAFE.sub(lambda m: _escape_char(m.group()), text)


def unescape_line_text(text: str) -> str:
    """The inverse of :func:`escape_line_text` (``\\xNN`` >= 80 back to the undecodable byte it stood for)."""

    def one(m: re.Match) -> str:
        code = m.group(1)
        if code == "\\":
            return "\\"
        value = int(code[1:], 16)
        return chr(0xDC00 + value) if code[0] == "x" and value >= 0x80 else chr(value)

    return _LINE_ESCAPE.sub(one, text)


_SAFE_NAME = re.compile(r"[^./\\~\-\s\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,99}")


def is_safe_name(name: object) -> bool:
    """Whether ``name`` can be used as one path component: no separator, control character or leading
    ``.``/``-``/``~``/space, at most 100 characters (pipeline names become output folders)."""
    return isinstance(name, str) and _SAFE_NAME.fullmatch(name) is not None and name == name.rstrip()


class FileReadError(WorkflowError):
    """A file cannot be read as asked; ``reason`` says why without naming it (the message does)."""

    def __init__(self, what: str, path: str | os.PathLike, reason: str):
        super().__init__(f"{what} '{path}' cannot be read: {reason}")
        self.reason = reason


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; never blocks on a FIFO nor reads a device.

    Raises:
        FileReadError: missing, unreadable, not a regular file, or larger than ``max_bytes``; names the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileReadError(what, path, exc.strerror or str(exc)) from None
    with os.fdopen(fd, "rb") as fp:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileReadError(what, path, "not a regular file")
        if st.st_size > max_bytes:
            raise FileReadError(what, path, f"too large ({st.st_size} bytes; limit {max_bytes})")
        data = fp.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileReadError(what, path, f"too large (more than {max_bytes} bytes)")
    return data


def safe_relpath(name: str, max_part: int = 120) -> PurePosixPath:
    """A relative path made from ``name`` that cannot leave the folder it is joined to.

    Drops empty, ``.`` and ``..`` parts and drive/root prefixes, turns ``\\`` into ``/``, replaces
    control and shell-odd characters by ``_`` and shortens long parts. A part changed on the way
    gets ``~`` and a short hash of the original before its extension, so distinct names stay
    distinct (``x?y.jpg`` and ``x_y.jpg`` are two files) and the same name always maps alike. Never empty.
    """
    parts = []
    raw = str(name).replace("\\", "/").split("/")
    if re.fullmatch(r"[A-Za-z]:", raw[0]):  # a Windows drive such as "C:"
        raw = raw[1:]
    for original in raw:
        part = _ODD.sub("_", original).strip(" ")
        if part in ("", ".", "..") or set(part) == {"."}:
            continue
        if part != original or len(part) > max_part:
            part = _tagged(_shortened(part, max_part - 9), original)
        parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath("_")


def _shortened(part: str, limit: int) -> str:
    """``part`` cut to ``limit`` characters, keeping a short extension."""
    if len(part) <= limit:
        return part
    stem, dot, ext = part.rpartition(".")
    return (stem[: limit - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else part[:limit]


def _tagged(part: str, original: str) -> str:
    """``part`` with ``~`` + 8 hex digits of the original's hash before its extension."""
    digest = hashlib.sha1(original.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    stem, dot, ext = part.rpartition(".")
    return f"{stem}~{digest}.{ext}" if dot and stem and len(ext) < 10 else f"{part}~{digest}"


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

"""What native decoders (OpenCV, FFmpeg, libjpeg) print on the C-level stderr, caught so a warning can name
the file.

OpenCV's video backend (FFmpeg: ``[mjpeg @ 0x...] overread 8``) and its JPEG decoder (libjpeg:
``Corrupt JPEG data: ...``) write straight to file descriptor 2, where nothing says which input
they came from. :func:`native_messages` points descriptor 2 at a private temporary file for the
length of one native call and gives back what was written there, so the caller reports it as a
warning or an error naming the file. Nothing is dropped: whatever the window caught is handed back.
The window is process-wide: blocks that overlap in time share it; keep them short (one decode). Python's own
``sys.stderr`` writes to a copy of descriptor 2 from the import of this module on, so windows never catch it.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_CAUGHT = 64 << 10  # bytes of one window's messages kept (a damaged video can print per packet)
_cond = threading.Condition()
_window: dict = {"users": 0, "file": None, "saved": None, "exclusive": False, "waiting": 0}  # the open window
_quiet_set = False


def quiet_opencv(cv2) -> None:
    """OpenCV's own log: errors only (its informational ``[ WARN ]`` lines name no input file)."""
    global _quiet_set
    if not _quiet_set:
        logging = getattr(getattr(cv2, "utils", None), "logging", None)  # OpenCV 5 (4.x: cv2.setLogLevel)
        if logging is not None:
            logging.setLogLevel(logging.LOG_LEVEL_ERROR)
        else:
            cv2.setLogLevel(2)  # LOG_LEVEL_ERROR
        _quiet_set = True


def _detach_python_stderr() -> None:
    """Point Python's ``sys.stderr`` at a copy of descriptor 2, so a window catches native messages only,
    never
    what Python code (warnings, logging, other threads) writes meanwhile. Only where ``sys.stderr`` is the
    process's own (not a test runner's or an application's replacement); the output goes where it went."""
    stream = sys.stderr
    try:
        if stream is None or stream is not sys.__stderr__ or stream.fileno() != 2:
            return
    except (OSError, ValueError):  # no descriptor behind it
        return
    stream.flush()
    raw = io.FileIO(os.dup(2), "w")
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=True,
        write_through=True,
    )


_detach_python_stderr()


@contextmanager
def native_messages(exclusive: bool = False) -> Iterator[list[str]]:
    """Catch what native code writes to descriptor 2 inside the block; the yielded list holds its lines after.

    Shared blocks of several threads use one window (descriptor 2 is restored when the last one ends), so
    decodes still run in parallel; each gets everything written while it ran, which may include another
    thread's message. An ``exclusive`` block runs alone, so what it catches is its own: use it to attribute
    a message before naming a file (exclusive blocks go first; shared ones wait for them).
    """
    lines: list[str] = []
    with _cond:
        if exclusive:
            _window["waiting"] += 1
            _cond.wait_for(lambda: _window["users"] == 0)
            _window["waiting"] -= 1
        else:
            _cond.wait_for(lambda: not _window["waiting"] and not _window["exclusive"])
        if _window["users"] == 0:
            for stream in (sys.stderr, sys.__stderr__):
                if stream is not None:
                    stream.flush()
            tmp = tempfile.TemporaryFile()
            _window.update(file=tmp, saved=os.dup(2), exclusive=exclusive)
            os.dup2(tmp.fileno(), 2)
        _window["users"] += 1
        begin = os.fstat(_window["file"].fileno()).st_size
    try:
        yield lines
    finally:
        with _cond:
            tmp = _window["file"]
            size = os.fstat(tmp.fileno()).st_size
            data = os.pread(tmp.fileno(), min(size - begin, MAX_CAUGHT), begin) if size > begin else b""
            _window["users"] -= 1
            if _window["users"] == 0:
                os.dup2(_window["saved"], 2)
                os.close(_window["saved"])
                tmp.close()
                _window.update(file=None, saved=None, exclusive=False)
                _cond.notify_all()
        text = data.decode("utf-8", "replace")
        lines.extend(line.strip() for line in text.splitlines() if line.strip())


def summary(lines: list[str]) -> str:
    """One line: the first message (its ``[codec @ 0x...]`` address dropped), and how many more."""
    first = lines[0]
    if first.startswith("[") and " @ 0x" in first.split("]", 1)[0]:
        first = first.split(" @ ", 1)[0] + "]" + first.split("]", 1)[1]
    first = " ".join(first.split())[:160]
    more = f" and {len(lines) - 1} more message(s)" if len(lines) > 1 else ""
    return f"'{first}'{more}"

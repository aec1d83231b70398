"""Reading inputs: image files and bytes, folders, video frames and http(s) urls.

Images come back as HxWx3 uint8 RGB numpy arrays. Decoding rules:

- EXIF orientation is applied (the array is upright as a viewer shows it).
- Alpha (RGBA, LA, PA, palette transparency) is composited on white.
- 16-bit and 32-bit integer images are scaled to 8 bits (``v / 257`` for 16-bit
  data; wider ranges are min-max scaled); float images in [0, 1] are scaled by
  255, other float ranges are min-max scaled. Grayscale is repeated on 3 channels.
- Animated images (GIF, APNG, WebP) give their first frame.
- Images of more than ``max_pixels`` pixels are refused from their header, before
  any pixel is allocated (decompression bombs). The default is PIL's own limit
  (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 MP); the environment variable
  ``WORKFLOW_MAX_IMAGE_PIXELS`` or the ``max_pixels`` argument changes it (a larger
  value raises PIL's limit to match, so both guards agree).
- ``min_side`` lets JPEGs decode at 1/2, 1/4 or 1/8 scale (OpenCV's reduced decode, or
  ``Image.draft`` for files it does not take) while the shorter side stays >= ``min_side``.

Every failure is an :class:`InputError` with a one-line ``"<name>: <reason>"`` message.
"""
from __future__ import annotations

import io
import math
import os
import re
import time
import urllib.parse
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from workflow.errors import InputError
from workflow.imaging import IMAGE_EXTS, MAX_PIXELS_ENV, _one_line, decode_bytes, load_image, max_image_pixels  # noqa: F401

VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
DEFAULT_MAX_URL_BYTES = 50 * 1024 * 1024


# -- folders ------------------------------------------------------------------
def iter_files(folder: str | os.PathLike, exts: frozenset[str] | set[str] | None = None, include_video: bool = False) -> list[Path]:
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


# -- video --------------------------------------------------------------------
def video_info(path: str | os.PathLike) -> dict[str, Any]:
    """``fps``, ``width``, ``height`` and ``frames`` (a container estimate; may be 0) of a video file."""
    import cv2

    cap = _open_capture(path)
    try:
        return {"fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0), "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), "frames": max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))}
    finally:
        cap.release()


def iter_video_frames(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, frame)`` for every frame of a video, frames as HxWx3 uint8 RGB arrays.

    Raises:
        InputError: the file is missing or cannot be opened as a video.
    """
    import cv2

    cap = _open_capture(path)
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()


def _open_capture(path: str | os.PathLike):
    import cv2

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{path}: cannot open as a video")
    return cap


class VideoWriter:
    """Write RGB frames to a video file (``.avi``: MJPG, else mp4v); opened on the first frame.

    Frames of another size than the first are resized to it. Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 25.0, fourcc: str | None = None):
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 25.0
        self.fourcc = fourcc or ("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v")
        self.frames = 0
        self._writer = None
        self._size: tuple[int, int] | None = None

    def write(self, frame) -> None:
        import cv2

        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self._size)
            if not self._writer.isOpened():
                self._writer = None
                raise InputError(f"{self.path}: cannot open a video writer (codec {self.fourcc})")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- reading ahead ---------------------------------------------------------------------
def prefetch(fn: Callable[[Any], Any], args: Iterable[Any], window: int, workers: int) -> Iterator[Any]:
    """``fn(arg)`` for each arg, in order, computed up to ``window`` items ahead by ``workers`` threads."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="workflow-decode")
    pending: deque = deque()
    args = iter(args)
    try:
        for arg in args:
            pending.append(pool.submit(fn, arg))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            for arg in args:  # top the window up by one
                pending.append(pool.submit(fn, arg))
                break
            yield result
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def background(iterable: Iterable[Any], maxsize: int) -> Iterator[Any]:
    """Iterate ``iterable`` in a thread, at most ``maxsize`` items ahead of the consumer (errors are re-raised here)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for value in iterable:
                while not stop.is_set():
                    try:
                        q.put((value, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # handed to the consumer
            q.put((end, exc))

    thread = threading.Thread(target=produce, name="workflow-reader", daemon=True)
    thread.start()
    try:
        while True:
            value, exc = q.get()
            if value is end:
                if exc is not None:
                    raise exc
                return
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


# -- urls -----------------------------------------------------------------------
def is_url(text: str) -> bool:
    """True for strings that look like a url with a scheme (``http://...``, ``ftp://...``)."""
    parsed = urllib.parse.urlsplit(str(text))
    return len(parsed.scheme) > 1 and bool(parsed.netloc or parsed.scheme in ("file", "data"))


def fetch_url(url: str, max_bytes: int = DEFAULT_MAX_URL_BYTES, timeout: float = 30.0) -> bytes:
    """Download ``url`` (http or https only) with a size limit enforced while streaming and a timeout.

    ``timeout`` bounds every network wait and the whole download. Redirects to another
    scheme are refused.

    Raises:
        InputError: bad scheme, HTTP error, too large, timed out or unreachable; names the url.
    """
    import socket
    import urllib.error
    import urllib.request

    _check_scheme(url)
    opener = urllib.request.build_opener(_http_only_redirects())
    request = urllib.request.Request(url, headers={"User-Agent": "cv-workflow"})
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise InputError(f"{url}: too large ({int(length)} bytes; limit {max_bytes})")
            chunks, total = [], 0
            while True:
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise InputError(f"{url}: too large (more than {max_bytes} bytes)")
                if time.monotonic() > deadline:
                    raise InputError(f"{url}: timed out after {timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except InputError:
        raise
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            raise InputError(f"{url}: timed out after {timeout:g} s") from None
        raise InputError(f"{url}: cannot fetch ({_one_line(exc.reason)})") from None
    except (socket.timeout, TimeoutError):
        raise InputError(f"{url}: timed out after {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{url}: cannot fetch ({_one_line(exc)})") from None


def load_url(url: str, min_side: int | None = None, max_bytes: int = DEFAULT_MAX_URL_BYTES, timeout: float = 30.0):
    """Fetch and decode an image url (see :func:`fetch_url` and :func:`decode_bytes`)."""
    return decode_bytes(fetch_url(url, max_bytes=max_bytes, timeout=timeout), url, min_side=min_side)


def url_file_name(url: str) -> str:
    """The last path segment of a url (``image`` when it has none), for naming results."""
    tail = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    return tail or "image"


def _check_scheme(url: str) -> None:
    scheme = urllib.parse.urlsplit(str(url)).scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}'" if scheme else "none"
        raise InputError(f"{url}: only http and https urls are allowed (scheme {shown})")


def _http_only_redirects():
    """A redirect handler that refuses redirects to anything but http(s) (urllib imported lazily)."""
    import urllib.request

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise InputError(f"{req.full_url}: redirect to {newurl} refused (only http and https urls are allowed)")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return HttpOnlyRedirects()

"""Video files: frame reading and annotated-video writing (OpenCV, imported lazily)."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError
from workflow.core.native_log import native_messages, quiet_opencv, summary

VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


def video_info(path: str | os.PathLike) -> dict[str, Any]:
    """``fps``, ``width``, ``height`` and ``frames`` (a container estimate; may be 0) of a video file."""
    import cv2

    messages: list[str] = []
    cap = _open_capture(path, messages)
    try:
        return {
            "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "frames": max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
        }
    finally:
        cap.release()
        _report(path, messages)


def iter_video_frames(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, frame)`` for every frame of a video, frames as HxWx3 uint8 RGB arrays.

    What the decoder prints (FFmpeg's ``[mjpeg @ 0x...] overread``) is caught and reported as one warning
    naming the file once the video is done (or abandoned), never on the bare stderr.

    Raises:
        InputError: the file is missing or cannot be opened as a video (with the decoder's first message).
    """
    import cv2

    messages: list[str] = []
    cap = _open_capture(path, messages)
    try:
        index = 0
        while True:
            with native_messages(exclusive=True) as caught:  # alone: what it catches is this video's
                ok, frame = cap.read()
            messages += caught
            if not ok:
                break
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()
        _report(path, messages)


def _report(path, messages: list[str]) -> None:
    if messages:
        warnings.warn(
            f"{path}: the video decoder reported {summary(messages)} (damaged file?)",
            RuntimeWarning,
            stacklevel=3,
        )


def _open_capture(path: str | os.PathLike, messages: list[str]):
    import cv2

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such video file")
    quiet_opencv(cv2)
    with native_messages(exclusive=True) as caught:
        cap = _capture(cv2, os.fspath(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(
            f"{path}: cannot open as a video" + (f" (decoder: {summary(caught)})" if caught else "")
        )
    messages += caught
    return cap


def _capture(cv2, path: str):
    """``cv2.VideoCapture`` of ``path``; a name that is not UTF-8 (OpenCV crashes on it) is opened through a
    symlink with a plain name in a private temporary folder, removed once the file is open."""
    try:
        path.encode("utf-8")
        return cv2.VideoCapture(path)
    except UnicodeEncodeError:
        pass
    folder = tempfile.mkdtemp(prefix="workflow-video-")
    link = os.path.join(folder, "video" + os.path.splitext(path.encode("utf-8", "replace").decode())[1])
    try:
        os.symlink(os.path.abspath(os.fsencode(path)), os.fsencode(link))
        return cv2.VideoCapture(link)
    finally:
        if os.path.lexists(link):
            os.unlink(link)
        os.rmdir(folder)


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
            self._writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self._size
            )
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

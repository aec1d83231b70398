"""The frames of a video file as a source, read in a background thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workflow.run.sources.base import Item, Source
from workflow.run.sources.threads import background
from workflow.run.sources.video import iter_video_frames, video_info


class VideoSource(Source):
    """Every frame of a video (a ``frame`` column in the results); image outputs become a video.

    Raises:
        InputError: the file is missing or cannot be opened as a video.
    """

    key_fields = ("path", "frame")
    unit = "frame"
    as_video = True

    def __init__(self, video: str | os.PathLike, ahead: int = 16):
        self.video = Path(video)
        self.path = self.video.resolve()
        self.info = video_info(self.video)
        self.ahead = ahead

    @property
    def fps(self) -> float:
        return self.info["fps"]

    def total(self) -> int | None:
        return self.info["frames"] or None

    def describe(self) -> dict[str, Any]:
        return {"video": str(self.video)}

    def items(self, min_side: int | None = None) -> Iterator[Item]:  # frames come decoded
        name = self.video.name
        read = 0
        for index, frame in background(iter_video_frames(self.video), self.ahead):
            read = index + 1
            yield Item({"path": name, "frame": index}, name, image=frame)
        declared = self.info["frames"]
        if declared - read > max(1, declared // 100):  # container counts may be estimates: allow 1%
            yield Item(
                {"path": name, "frame": read},
                name,
                error=f"the video ended early: {read} of the {declared} frames its header declares were read "
                f"(truncated or damaged file?)",
            )

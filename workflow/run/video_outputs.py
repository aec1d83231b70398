"""Image outputs of a video run written as videos (one per image output), frame by frame."""

from __future__ import annotations

from typing import Any

from workflow.core.files import output_path
from workflow.run.records import Recorder
from workflow.run.sources.base import Item
from workflow.run.sources.frames import VideoSource
from workflow.run.sources.video import VideoWriter


class VideoOutputs:
    """One :class:`VideoWriter` per image output, beside the results (``<stem>_annotated.mp4``).

    A frame whose item failed (or whose output is empty) is written as it was read, so the
    output video keeps every frame in place.

    Raises:
        InputError: a target would overwrite the input video.
    """

    def __init__(self, source: VideoSource, recorder: Recorder):
        self.writers: dict[str, VideoWriter] = {}
        images = recorder.image_outputs
        for output in images:
            suffix = "_annotated" if len(images) == 1 else f"_{output}"
            target = recorder.checked_target(
                output_path(recorder.output_dir, f"{source.video.stem}{suffix}.mp4")
            )
            self.writers[output] = VideoWriter(target, fps=source.fps)

    def write(self, item: Item, outputs: dict[str, Any] | None) -> None:
        """Append the frame of ``item``: each writer's output, or the original frame."""
        for output, writer in self.writers.items():
            value = (outputs or {}).get(output)
            writer.write(value if value is not None else item.image)

    def close(self) -> dict[str, str]:
        """Close every writer; returns ``{output: video path}`` for report.json."""
        for writer in self.writers.values():
            writer.close()
        return {k: str(w.path) for k, w in self.writers.items()}

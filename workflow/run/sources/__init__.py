"""Where a run's items come from: one image (path, array, url), a folder or a video, behind one
:class:`Source`.

Modules: :mod:`.base` (Item, Source), :mod:`.single`, :mod:`.folder`, :mod:`.frames` (the sources),
:mod:`.listing` (folder listing), :mod:`.video` (frame reading, video writing), :mod:`.urls`
(fetching), :mod:`._deadline_http` (total deadlines on HTTP connections), :mod:`.threads`
(reading ahead). Decoding lives in :mod:`workflow.core.imaging`.
"""

from __future__ import annotations

from workflow.core.imaging import IMAGE_EXTS, decode_bytes, load_image
from workflow.run.sources.base import Item, Source
from workflow.run.sources.folder import FolderSource
from workflow.run.sources.frames import VideoSource
from workflow.run.sources.listing import iter_files
from workflow.run.sources.single import ArraySource, NoImageSource, PathSource, UrlSource
from workflow.run.sources.threads import background, prefetch
from workflow.run.sources.urls import DEFAULT_MAX_URL_BYTES, fetch_url, is_url, load_url, url_file_name
from workflow.run.sources.video import VIDEO_EXTS, VideoWriter, iter_video_frames, video_info

__all__ = [
    "Item",
    "Source",
    "PathSource",
    "ArraySource",
    "UrlSource",
    "NoImageSource",
    "FolderSource",
    "VideoSource",
    "iter_files",
    "background",
    "prefetch",
    "fetch_url",
    "is_url",
    "load_url",
    "url_file_name",
    "VIDEO_EXTS",
    "VideoWriter",
    "iter_video_frames",
    "video_info",
    "IMAGE_EXTS",
    "decode_bytes",
    "load_image",
    "DEFAULT_MAX_URL_BYTES",
]

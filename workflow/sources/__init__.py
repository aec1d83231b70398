"""Where a run's items come from: one image (path, array, url), a folder or a video, behind one :class:`Source`.

Modules: :mod:`.base` (Item, Source), :mod:`.single`, :mod:`.folder`, :mod:`.frames` (the sources),
:mod:`.listing` (folder listing), :mod:`.video` (frame reading, video writing), :mod:`.urls`
(fetching), :mod:`.threads` (reading ahead). Decoding lives in :mod:`workflow.imaging`.
"""
from __future__ import annotations

from workflow.imaging import IMAGE_EXTS, decode_bytes, load_image
from workflow.sources.base import Item, Source
from workflow.sources.folder import FolderSource
from workflow.sources.frames import VideoSource
from workflow.sources.listing import iter_files
from workflow.sources.single import ArraySource, NoImageSource, PathSource, UrlSource
from workflow.sources.threads import background, prefetch
from workflow.sources.urls import DEFAULT_MAX_URL_BYTES, fetch_url, is_url, load_url, url_file_name
from workflow.sources.video import VIDEO_EXTS, VideoWriter, iter_video_frames, video_info

__all__ = ["Item", "Source", "PathSource", "ArraySource", "UrlSource", "NoImageSource", "FolderSource", "VideoSource",
           "iter_files", "background", "prefetch", "fetch_url", "is_url", "load_url", "url_file_name", "VIDEO_EXTS",
           "VideoWriter", "iter_video_frames", "video_info", "IMAGE_EXTS", "decode_bytes", "load_image",
           "DEFAULT_MAX_URL_BYTES"]

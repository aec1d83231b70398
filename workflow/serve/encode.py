"""Encoding output images for responses (PNG or JPEG, raw bytes or base64)."""

from __future__ import annotations

import base64
from typing import Any

from workflow.core.imaging import JPEG_QUALITY, encode_image

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
__all__ = ["JPEG_QUALITY", "MEDIA_TYPES", "encode_image", "image_json"]


def image_json(array: Any, fmt: str) -> dict[str, Any]:
    """``{"format", "media_type", "width", "height", "base64"}`` for a JSON response."""
    data = encode_image(array, fmt)
    return {
        "format": fmt,
        "media_type": MEDIA_TYPES[fmt],
        "width": int(array.shape[1]),
        "height": int(array.shape[0]),
        "base64": base64.b64encode(data).decode("ascii"),
    }

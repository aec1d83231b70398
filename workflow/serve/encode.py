"""Encoding output images for responses (PNG or JPEG, raw bytes or base64)."""

from __future__ import annotations

import base64
import io
from typing import Any

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
JPEG_QUALITY = 90


def encode_image(array: Any, fmt: str) -> bytes:
    """An HxWx3 uint8 RGB array as PNG or JPEG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    image = Image.fromarray(array)
    if fmt == "jpeg":
        image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


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

"""Image decoding shared by every task: files and bytes to HxWx3 uint8 RGB arrays (and back to PNG/JPEG).

The one place that decides how an image file becomes pixels, used by the engine's
sources, by training's dataset and by third-party plugins alike:

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
:func:`encode_image` is the way back: an array to PNG or JPEG bytes (HTTP responses, ``to_json``).
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
import warnings
from typing import BinaryIO

from workflow.core.errors import InputError, exception_text
from workflow.core.native_log import native_messages, quiet_opencv, summary

IMAGE_EXTS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
MAX_PIXELS_ENV = "WORKFLOW_MAX_IMAGE_PIXELS"
JPEG_QUALITY = 90
ENCODINGS = ("png", "jpeg")


def is_image_file(name: str | os.PathLike) -> bool:
    """True when the file name has an image extension this module decodes."""
    return os.path.splitext(os.fspath(name))[1].lower() in IMAGE_EXTS


def encode_image(array, fmt: str = "png") -> bytes:
    """An HxWx3 (or HxW) uint8 RGB array as PNG (fast compression) or JPEG (quality 90) bytes.

    Raises:
        ValueError: ``fmt`` is neither "png" nor "jpeg".
    """
    if fmt not in ENCODINGS:
        raise ValueError(f"image format {fmt!r}: expected one of {', '.join(ENCODINGS)}")
    from PIL import Image

    buf = io.BytesIO()
    image = Image.fromarray(array)
    if fmt == "jpeg":
        image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def max_image_pixels() -> int:
    """The pixel limit for decoding: ``WORKFLOW_MAX_IMAGE_PIXELS``, else PIL's ``MAX_IMAGE_PIXELS``."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        from PIL import Image

        return int(Image.MAX_IMAGE_PIXELS or 89_478_485)
    try:
        return int(float(value))
    except ValueError:
        raise InputError(f"{MAX_PIXELS_ENV}={value!r}: expected a number of pixels") from None


def load_image(path: str | os.PathLike, min_side: int | None = None, max_pixels: int | None = None):
    """Read an image file as an HxWx3 uint8 RGB array (see the module docstring for the rules).

    Raises:
        InputError: missing, empty, truncated, too large or not an image; names the file.
    """
    name = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(f"{name}: cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{name}: empty file (0 bytes)")
    try:
        with open(path, "rb") as fp:
            return _decode(fp, name, min_side, max_pixels)
    except OSError as exc:
        raise InputError(f"{name}: cannot read file ({exc.strerror or exc})") from None


def decode_bytes(data: bytes, name: str, min_side: int | None = None, max_pixels: int | None = None):
    """Decode an encoded image held in memory (e.g. downloaded from a url); ``name`` is used in errors."""
    if not data:
        raise InputError(f"{name}: empty file (0 bytes)")
    return _decode(io.BytesIO(data), name, min_side, max_pixels)


_decoding = threading.local()


def decoding_file() -> str | None:
    """The file this thread is decoding right now (for naming a decoder's warnings), else None."""
    return getattr(_decoding, "name", None)


def _decode(fp: BinaryIO, name: str, min_side: int | None, max_pixels: int | None):
    _decoding.name = name
    try:
        return _decode_named(fp, name, min_side, max_pixels)
    finally:
        _decoding.name = None


def _decode_named(fp: BinaryIO, name: str, min_side: int | None, max_pixels: int | None):
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = max_pixels if max_pixels is not None else max_image_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # PIL warns above its limit and refuses above twice it
    try:
        im = Image.open(fp)
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image (unknown or unsupported format)") from None
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{found.group(1)} pixels" if found else "size unknown"
        raise InputError(
            f"{name}: image too large ({size}; limit {limit}, set {MAX_PIXELS_ENV} to raise it); "
            "refused before decoding"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # broken headers raise OSError, SyntaxError, ValueError, struct.error...
        raise InputError(f"{name}: not a readable image ({exception_text(exc)})") from None
    with im:
        width, height = im.size
        if width * height > limit:
            raise InputError(
                f"{name}: image too large ({width}x{height} = {width * height} pixels; limit {limit}, "
                f"set {MAX_PIXELS_ENV} to raise it); refused before decoding"
            )
        try:
            if min_side and im.format == "JPEG":
                short = min(width, height)
                if short > 2 * min_side:
                    target = (math.ceil(width * min_side / short), math.ceil(height * min_side / short))
                    reduced = _reduced_jpeg(fp, im, target)
                    if reduced is not None:
                        return reduced
                    im.draft(im.mode, target)
            im.load()  # first frame of animated images
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im)
        except Image.DecompressionBombError:
            raise InputError(f"{name}: image too large (refused as a possible decompression bomb)") from None
        except MemoryError:
            raise
        except Exception as exc:  # PIL raises OSError, SyntaxError, struct.error... for broken files
            raise InputError(f"{name}: truncated or corrupt image ({exception_text(exc)})") from None


def _reduced_jpeg(fp: BinaryIO, im, target: tuple[int, int]):
    """The JPEG decoded by OpenCV at the 1/2, 1/4 or 1/8 scale ``Image.draft(mode, target)`` would pick
    (same libjpeg scaled decode, same pixels), EXIF orientation applied; None where PIL must decode it.

    OpenCV decodes the whole file in one call without the GIL; PIL's chunked load loop, EXIF handling
    and array copy keep taking it back, which in a folder run stalls the thread feeding the model
    (measured: ~4% of the end-to-end rate on 2 cores). Only plain RGB/greyscale files that end with an
    EOI marker take this path: truncated, CMYK or otherwise unusual files go through PIL as before.
    """
    scale = min(im.size[0] // target[0], im.size[1] // target[1])
    factor = next((f for f in (8, 4, 2) if scale >= f), 1)
    if factor == 1 or im.mode not in ("RGB", "L"):
        return None
    import cv2
    import numpy as np

    fp.seek(0)
    data = np.frombuffer(fp.read(), np.uint8)
    if data[-2:].tobytes() != b"\xff\xd9":
        return None
    flags = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[
        factor
    ]
    quiet_opencv(cv2)
    try:
        with native_messages() as caught:  # libjpeg prints "Corrupt JPEG data: ..." on the C stderr
            bgr = cv2.imdecode(data, flags)
        if caught:  # maybe another thread's message: decode again alone to know whose it is
            with native_messages(exclusive=True) as caught:
                bgr = cv2.imdecode(data, flags)
    except cv2.error:  # e.g. above OpenCV's own pixel limit: PIL decodes (or reports) it
        return None
    if caught:  # a damaged file: said naming it; PIL then decodes it as it always did, or refuses it
        warnings.warn(
            f"{decoding_file()}: the JPEG decoder reported {summary(caught)}", RuntimeWarning, stacklevel=2
        )
        return None
    if bgr is None or bgr.ndim != 3:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _to_rgb(im):
    """Convert any PIL mode to an HxWx3 uint8 RGB array (alpha on white, high bit depths scaled)."""
    import numpy as np
    from PIL import Image

    mode = im.mode
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        arr = arr.astype(np.float64) if arr.dtype.kind == "f" else arr.astype(np.int64)
        gray = _scale_to_uint8(arr, mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    elif mode in ("LA", "La", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
        return np.asarray(background, dtype=np.uint8).copy()
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _scale_to_uint8(arr, mode: str):
    import numpy as np

    if arr.size == 0:
        return arr.astype(np.uint8)
    lo, hi = float(arr.min()), float(arr.max())
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        out = arr * 255.0
    elif lo >= 0 and hi <= 255 and mode in ("I", "F"):
        out = arr
    elif lo >= 0 and hi <= 65535:
        out = arr / 257.0
    else:
        out = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else arr * 0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)

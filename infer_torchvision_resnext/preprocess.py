"""Image preparation that follows the weights' own recipe.

The model sees a ``crop_size`` square taken from the centre of the image after
its shorter side was resized to ``resize_size`` with the weights' interpolation
(torchvision's ``ImageClassification`` transform). We compute that crop in one
Pillow call (``resize(box=...)`` resamples only the crop region, with the same
filter coefficients as resizing the whole image and cropping afterwards), on
uint8 data; normalisation (mean/std) is left to the backend so that batches
travel as compact uint8 NHWC arrays. For bilinear recipes on images that need
at most a mild shrink, OpenCV's bilinear resize does the same job ~5x cheaper.
Images on the task's ports keep their full size, so a big photo is first
halved here with OpenCV's INTER_AREA (2x2 block means) while its shorter side
stays at least twice the resize size, and Pillow resamples only that (see
:func:`_pre_shrink`; timings in the README). Pass ``exact=True`` to always use
Pillow on the full image.

The task's ``image`` port takes HxWx3 uint8 **RGB** arrays. OpenCV's
``cv2.imread`` gives BGR: convert with :func:`as_rgb_image` (``color_order="bgr"``)
or ``cv2.cvtColor(img, cv2.COLOR_BGR2RGB)`` first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workflow.core.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.recipe import Preprocessing

_PIL_FILTERS = {"bilinear": 2, "bicubic": 3, "nearest": 0}  # PIL.Image.Resampling values
REDUCING_GAP = 3.0  # Pillow's shortcut for very large downscales (>= 6x); identical below that
FAST_MAX_DOWNSCALE = 1.1  # up to this shrink factor (and for any upscale) OpenCV's bilinear is used
PRESHRINK_GAP = 2.0  # big images are halved while their shorter side stays >= this x the resize size


def resized_size(height: int, width: int, resize_size: int) -> tuple[int, int]:
    """(new_height, new_width) with the shorter side at ``resize_size``, as torchvision computes it."""
    short, long = (height, width) if height <= width else (width, height)
    new_short, new_long = resize_size, int(resize_size * long / short)
    return (new_short, new_long) if height <= width else (new_long, new_short)


def crop_box(height: int, width: int, prep: Preprocessing) -> tuple[float, float, float, float]:
    """Source-pixel box (left, top, right, bottom) of the centre crop after the shorter-side resize."""
    new_h, new_w = resized_size(height, width, prep.resize_size)
    top = int(round((new_h - prep.crop_size) / 2.0))
    left = int(round((new_w - prep.crop_size) / 2.0))
    sy, sx = new_h / height, new_w / width
    return (left / sx, top / sy, (left + prep.crop_size) / sx, (top + prep.crop_size) / sy)


def preprocess(image: np.ndarray, prep: Preprocessing, exact: bool = False) -> np.ndarray:
    """The ``crop_size x crop_size x 3`` uint8 RGB crop the model sees.

    Args:
        image: HxWx3 uint8 RGB (see :func:`as_rgb_image` for other kinds).
        prep: the weights' or checkpoint's recipe.
        exact: always use Pillow, without its reducing-gap shortcut for huge downscales (matches
            torchvision's weights transforms to one uint8 level); default: the fast paths.

    Raises:
        InputError: not an HxWx3 uint8 array, or an empty one.
    """
    from PIL import Image

    _check_rgb(image)
    h, w = image.shape[:2]
    if prep.resize_size < prep.crop_size:
        raise InputError(f"resize_size {prep.resize_size} is smaller than crop_size {prep.crop_size}")
    if not exact and _fast_path_applies(h, w, prep):
        return _resize_crop_cv2(image, prep)
    box = crop_box(h, w, prep)
    if not exact:
        image, box = _pre_shrink(image, box, prep)
    pil = Image.fromarray(np.ascontiguousarray(image))
    out = pil.resize(
        (prep.crop_size, prep.crop_size),
        _PIL_FILTERS[prep.interpolation],
        box=box,
        reducing_gap=None if exact else REDUCING_GAP,
    )
    return np.array(out)  # writable (torch.from_numpy warns on read-only arrays)


def _pre_shrink(
    image: np.ndarray, box: tuple[float, float, float, float], prep: Preprocessing
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``image`` halved (OpenCV INTER_AREA: the mean of each 2x2 block) while its shorter side stays at least
    :data:`PRESHRINK_GAP` times the resize size, and ``box`` in the shrunk image's coordinates.

    Halving is OpenCV's fastest area resize (other whole factors are several times slower); pixel ``i`` of a
    halved image averages source pixels ``2i`` and ``2i+1``, so a source coordinate ``x`` becomes ``x / 2``
    (an odd last row or column is dropped: the centre crop never reaches it). Nearest-neighbour recipes and
    images already small enough are returned as they are.
    """
    import cv2

    if prep.interpolation == "nearest":
        return image, box
    left, top, right, bottom = box
    while min(image.shape[:2]) // 2 >= PRESHRINK_GAP * prep.resize_size:
        h, w = image.shape[0] // 2, image.shape[1] // 2
        image = cv2.resize(image[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA)
        left, top, right, bottom = left / 2, top / 2, min(right / 2, w), min(bottom / 2, h)
    return image, (left, top, right, bottom)


def _fast_path_applies(h: int, w: int, prep: Preprocessing) -> bool:
    """Bilinear, at most a mild downscale (where antialiasing changes almost nothing), moderate aspect
    ratio."""
    new_h, new_w = resized_size(h, w, prep.resize_size)
    return (
        prep.interpolation == "bilinear"
        and min(h, w) <= FAST_MAX_DOWNSCALE * prep.resize_size
        and new_h * new_w <= 4 * prep.resize_size**2
    )


def _resize_crop_cv2(image: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """OpenCV bilinear resize of the shorter side + centre crop: ~5x cheaper than Pillow on small images
    (e.g. JPEGs the runner decoded at reduced scale), within a few levels of it at these scales."""
    import cv2

    new_h, new_w = resized_size(*image.shape[:2], prep.resize_size)
    resized = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top = int(round((new_h - prep.crop_size) / 2.0))
    left = int(round((new_w - prep.crop_size) / 2.0))
    return np.ascontiguousarray(resized[top : top + prep.crop_size, left : left + prep.crop_size])


def preprocess_batch(images: list[np.ndarray], prep: Preprocessing, exact: bool = False) -> np.ndarray:
    """A uint8 NHWC batch of the crops of ``images``."""
    out = np.empty((len(images), prep.crop_size, prep.crop_size, 3), np.uint8)
    for i, image in enumerate(images):
        out[i] = preprocess(image, prep, exact)
    return out


def normalize_nchw(batch_nhwc, mean, std):
    """uint8 NHWC torch tensor -> float NCHW (channels_last memory) normalised with mean/std in 0..1 units."""
    import torch

    x = batch_nhwc.permute(0, 3, 1, 2).float()  # a permuted NHWC tensor already has channels_last strides
    m = torch.tensor([v * 255.0 for v in mean], device=x.device).view(1, 3, 1, 1)
    s = torch.tensor([v * 255.0 for v in std], device=x.device).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def _check_rgb(image) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise InputError(
            f"expected an HxWx3 uint8 RGB array, got {type(image).__name__} shape {shape} "
            f"dtype {getattr(image, 'dtype', None)} (see infer_torchvision_resnext.preprocess.as_rgb_image)"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image is empty (shape {image.shape})")


def as_rgb_image(image: np.ndarray, color_order: str = "rgb") -> np.ndarray:
    """Convert what users have into the HxWx3 uint8 RGB array the ``image`` port expects.

    Handles greyscale (HxW or HxWx1), RGBA/BGRA (alpha dropped), 16-bit and float
    images (float assumed in 0..1), and OpenCV's BGR order (``color_order="bgr"``).

    Raises:
        InputError: a shape or dtype that is not an image.
    """
    arr = np.asarray(image)
    if color_order not in ("rgb", "bgr"):
        raise InputError(f"color_order must be 'rgb' or 'bgr', got {color_order!r}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise InputError(
            f"cannot read an image from an array of shape {arr.shape} (expected HxW, HxWx1, HxWx3 or HxWx4)"
        )
    if arr.size == 0:
        raise InputError(f"image is empty (shape {arr.shape})")
    arr = _to_uint8(arr)
    if color_order == "bgr":
        arr = arr[:, :, ::-1]
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        return (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr, 0, 255).astype(np.uint8)
    raise InputError(f"cannot read an image from an array of dtype {arr.dtype}")

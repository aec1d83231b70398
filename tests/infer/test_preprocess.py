"""Preprocessing: faithful to the weights' transforms, every image kind users have."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infer_torchvision_resnext.models import resolve_weights
from infer_torchvision_resnext.preprocess import (
    as_rgb_image,
    normalize_nchw,
    preprocess,
    preprocess_batch,
    resized_size,
)
from infer_torchvision_resnext.recipe import Preprocessing
from workflow.core.errors import InputError


@pytest.mark.parametrize("which", ["IMAGENET1K_V1", "IMAGENET1K_V2"])
@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "camera"])
def test_matches_the_weights_own_transforms(photos, name, which):
    """Same pixels as torchvision's weights.transforms() on a PIL image (resize shorter side, centre crop)."""
    from PIL import Image

    weights = resolve_weights("resnext50", which)
    prep = Preprocessing.from_weights(weights)
    ours = normalize_nchw(
        torch.from_numpy(preprocess(photos[name], prep, exact=True)[None]), prep.mean, prep.std
    )
    theirs = weights.transforms()(Image.fromarray(photos[name]))[None]
    assert ours.shape == theirs.shape == (1, 3, 224, 224)
    # one uint8 step at most (Pillow's crop-box resampling rounds like the full resize), i.e. < 0.02 after
    # /std
    assert (ours - theirs).abs().max().item() < 1.01 / 255 / 0.224


def test_non_square_and_portrait_sizes():
    assert resized_size(300, 451, 232) == (232, int(232 * 451 / 300))
    assert resized_size(451, 300, 232) == (int(232 * 451 / 300), 232)
    assert resized_size(100, 100, 256) == (256, 256)


def test_bicubic_and_nearest_interpolations_run(photos):
    for interp in ("bicubic", "nearest"):
        out = preprocess(photos["chelsea"], Preprocessing(48, 55, interp))
        assert out.shape == (48, 48, 3) and out.dtype == np.uint8
    assert not np.array_equal(
        preprocess(photos["chelsea"], Preprocessing(48, 55, "bicubic")),
        preprocess(photos["chelsea"], Preprocessing(48, 55, "nearest")),
    )


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 300), (300, 7)])
def test_tiny_and_thin_images_are_upscaled(photos, shape):
    tiny = np.ascontiguousarray(photos["coffee"][: shape[0], : shape[1]])
    out = preprocess(tiny, Preprocessing.default(32))
    assert out.shape == (32, 32, 3)
    if shape == (1, 1):
        assert (out == tiny[0, 0]).all()


def test_huge_image_uses_pillows_reducing_gap_and_stays_close(photos):
    huge = np.tile(photos["astronaut"], (8, 8, 1))  # 4096 x 4096
    prep = Preprocessing.default(64)
    fast, exact = preprocess(huge, prep).astype(int), preprocess(huge, prep, exact=True).astype(int)
    assert fast.shape == (64, 64, 3)
    assert np.abs(fast - exact).mean() < 2.0


@pytest.mark.parametrize("shape", [(1201, 1805), (1805, 1201), (3001, 4003)])
def test_big_photos_are_halved_first_and_stay_close_to_pillow_on_the_full_image(photos, shape):
    """Ports carry full-size photos; the model's crop is computed on a halved copy (2x2 block means, odd edges
    dropped) with the crop box moved exactly: same geometry, within a level or two of Pillow on the full
    image."""
    import cv2

    from infer_torchvision_resnext import preprocess as pp

    photo = cv2.resize(photos["astronaut"], shape[::-1], interpolation=cv2.INTER_CUBIC)
    prep = Preprocessing(224, 232)
    small, box = pp._pre_shrink(photo, pp.crop_box(*shape, prep), prep)
    assert min(small.shape[:2]) >= pp.PRESHRINK_GAP * prep.resize_size > min(small.shape[:2]) / 2
    assert box == pytest.approx([v / (shape[0] // small.shape[0]) for v in pp.crop_box(*shape, prep)])
    fast, exact = preprocess(photo, prep).astype(int), preprocess(photo, prep, exact=True).astype(int)
    assert np.abs(fast - exact).mean() < 0.6 and np.abs(fast - exact).max() <= 8
    marked = photo.copy()
    r = min(shape) // 20  # a red square about 23 px wide in the crop
    marked[shape[0] // 2 - r : shape[0] // 2 + r, shape[1] // 2 - r : shape[1] // 2 + r] = (255, 0, 0)
    centre = preprocess(marked, prep)[112 - 4 : 112 + 4, 112 - 4 : 112 + 4]
    assert (centre == (255, 0, 0)).all()  # the centre of the photo is the centre of the crop


def test_batch_is_uint8_nhwc(photos):
    batch = preprocess_batch([photos["chelsea"], photos["rocket"]], Preprocessing.default(40))
    assert batch.shape == (2, 40, 40, 3) and batch.dtype == np.uint8
    x = normalize_nchw(torch.from_numpy(batch), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert x.shape == (2, 3, 40, 40) and x.is_contiguous(memory_format=torch.channels_last)
    assert x[0, 0, 0, 0].item() == pytest.approx((batch[0, 0, 0, 0] - 127.5) / 63.75, abs=1e-5)


def test_wrong_inputs_are_refused_with_a_hint(photos):
    with pytest.raises(
        InputError, match=r"expected an HxWx3 uint8 RGB array, got ndarray shape \(512, 512\) .*as_rgb_image"
    ):
        preprocess(np.zeros((512, 512), np.uint8), Preprocessing.default(32))
    with pytest.raises(InputError, match=r"image is empty"):
        preprocess(np.zeros((0, 5, 3), np.uint8), Preprocessing.default(32))


def test_as_rgb_image_handles_every_kind(photos):
    rgb = photos["coffee"]
    grey = rgb[:, :, 1]
    assert np.array_equal(as_rgb_image(grey), np.stack([grey] * 3, axis=2))
    assert np.array_equal(as_rgb_image(grey[:, :, None]), np.stack([grey] * 3, axis=2))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    assert np.array_equal(as_rgb_image(rgba), rgb)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # what cv2.imread returns
    assert np.array_equal(as_rgb_image(bgr, color_order="bgr"), rgb)
    assert np.array_equal(as_rgb_image(rgb.astype(np.uint16) * 257), rgb)  # 16-bit PNG data
    assert np.abs(as_rgb_image(rgb / 255.0).astype(int) - rgb).max() <= 1  # float in 0..1
    assert as_rgb_image(np.ones((4, 4), bool)).max() == 255


def test_as_rgb_image_refusals():
    with pytest.raises(InputError, match=r"shape \(4, 4, 2\)"):
        as_rgb_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(InputError, match=r"color_order must be 'rgb' or 'bgr', got 'hsv'"):
        as_rgb_image(np.zeros((4, 4, 3), np.uint8), color_order="hsv")
    with pytest.raises(InputError, match=r"image is empty"):
        as_rgb_image(np.zeros((0, 4), np.uint8))


@pytest.mark.parametrize("name", ["chelsea", "coffee", "camera"])
def test_fast_path_for_mild_rescales_stays_close_to_pillow(photos, name):
    """Images decoded at reduced scale (shorter side just above resize_size) or upscaled take OpenCV's
    path."""
    from PIL import Image

    prep = Preprocessing(224, 232)
    for short in (240, 150):  # a mild shrink (draft-decoded JPEG) and an upscale
        img = photos[name]
        h, w = img.shape[:2]
        small = np.asarray(
            Image.fromarray(img).resize((round(w * short / min(h, w)), round(h * short / min(h, w))))
        )
        fast, exact = preprocess(small, prep).astype(int), preprocess(small, prep, exact=True).astype(int)
        assert fast.shape == exact.shape == (224, 224, 3)
        assert np.abs(fast - exact).mean() < 1.0 and np.percentile(np.abs(fast - exact), 99) <= 8

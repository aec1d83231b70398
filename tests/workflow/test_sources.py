"""Image decoding (every awkward kind of file), folders, video frames and read-ahead helpers."""

from __future__ import annotations

import struct
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from workflow.core.errors import InputError
from workflow.run.sources import (
    VideoWriter,
    background,
    decode_bytes,
    iter_files,
    iter_video_frames,
    load_image,
    prefetch,
    video_info,
)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo, not square (400x600)."""
    return skdata.coffee()


def png_header_bomb(path, width: int, height: int) -> None:
    """A valid PNG header claiming ``width x height`` pixels, with almost no data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_rgb_jpeg_is_hxwx3_uint8(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=95)
    img = load_image(tmp_path / "a.jpg")
    assert img.shape == photo.shape and img.dtype == np.uint8
    assert np.abs(img.astype(int) - photo).mean() < 4


def test_exif_orientation_is_applied(tmp_path, photo):
    plain, rotated = tmp_path / "plain.jpg", tmp_path / "rotated.jpg"
    Image.fromarray(photo).save(plain)
    exif = Image.Image.getexif(Image.fromarray(photo))
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(photo).save(rotated, exif=exif)
    upright = load_image(rotated)
    assert upright.shape == (600, 400, 3)
    np.testing.assert_array_equal(upright, np.rot90(load_image(plain), k=-1))


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.linspace(0, 65535, 12 * 20).reshape(12, 20).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    img = load_image(tmp_path / "deep.png")
    expected = np.rint(values / 257.0).astype(np.uint8)
    assert img.shape == (12, 20, 3)
    np.testing.assert_array_equal(img[..., 0], expected)
    np.testing.assert_array_equal(img[..., 0], img[..., 2])


def test_32_bit_int_and_float_images(tmp_path):
    Image.fromarray(np.full((3, 4), 0.5, np.float32), mode="F").save(tmp_path / "f.tif")
    Image.fromarray(np.full((3, 4), 200, np.int32), mode="I").save(tmp_path / "i.tif")
    assert load_image(tmp_path / "f.tif")[0, 0].tolist() == [128, 128, 128]
    assert load_image(tmp_path / "i.tif")[0, 0].tolist() == [200, 200, 200]


def test_palette_image_matches_pil_rgb(tmp_path, photo):
    pal = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "pal.png")
    np.testing.assert_array_equal(load_image(tmp_path / "pal.png"), np.asarray(pal.convert("RGB")))


def test_palette_transparency_and_rgba_are_composited_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[0, :, 3] = 255  # opaque row
    rgba[1, 0, 3] = 0  # transparent
    rgba[1, 1, 3] = 128  # half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    img = load_image(tmp_path / "rgba.png")
    assert img[0, 0].tolist() == [255, 0, 0]
    assert img[1, 0].tolist() == [255, 255, 255]
    assert img[1, 1, 0] == 255 and 120 <= img[1, 1, 1] <= 135
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "pal.png", transparency=0)
    assert load_image(tmp_path / "pal.png").tolist() == [[[255, 255, 255], [0, 255, 0]]]


def test_grayscale_with_alpha(tmp_path):
    la = np.stack([np.full((2, 2), 40, np.uint8), np.array([[255, 0], [255, 255]], np.uint8)], axis=2)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    img = load_image(tmp_path / "la.png")
    assert img[0, 0].tolist() == [40, 40, 40] and img[0, 1].tolist() == [255, 255, 255]


def test_cmyk_jpeg_reads_as_rgb(tmp_path, photo):
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    img = load_image(tmp_path / "cmyk.jpg")
    assert img.shape == photo.shape
    assert np.abs(img.astype(int) - photo).mean() < 12


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((6, 8, 3), v, np.uint8)) for v in (30, 220, 120)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(tmp_path / "anim.gif").n_frames == 3
    img = load_image(tmp_path / "anim.gif")
    assert img.shape == (6, 8, 3) and abs(int(img.mean()) - 30) <= 2


def test_one_pixel_image(tmp_path):
    Image.fromarray(np.array([[[1, 2, 3]]], np.uint8)).save(tmp_path / "one.png")
    assert load_image(tmp_path / "one.png").tolist() == [[[1, 2, 3]]]


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: empty file \(0 bytes\)$"):
        load_image(tmp_path / "empty.jpg")


def test_truncated_jpeg(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "full.jpg")
    blob = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match=r"cut\.jpg: truncated or corrupt image \(image file is truncated"):
        load_image(tmp_path / "cut.jpg")


def test_text_file_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    with pytest.raises(InputError, match=r"notes\.jpg: not an image \(unknown or unsupported format\)"):
        load_image(tmp_path / "notes.jpg")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.png: cannot read file \(No such file"):
        load_image(tmp_path / "nope.png")


def test_decompression_bomb_is_refused_from_its_header(tmp_path):
    png_header_bomb(tmp_path / "bomb.png", 20000, 20000)
    assert (tmp_path / "bomb.png").stat().st_size < 200
    start = time.perf_counter()
    with pytest.raises(
        InputError, match=r"bomb\.png: image too large \(400000000 pixels; limit \d+.*refused before decoding"
    ):
        load_image(tmp_path / "bomb.png")
    assert time.perf_counter() - start < 1.0


def test_pixel_limit_is_configurable(tmp_path, monkeypatch, photo):
    Image.fromarray(photo).save(tmp_path / "a.png")
    monkeypatch.setenv("WORKFLOW_MAX_IMAGE_PIXELS", "100000")
    with pytest.raises(
        InputError,
        match=r"a\.png: image too large \(600x400 = 240000 pixels; limit 100000, set WORKFLOW_MAX_IMAGE_PIXELS",
    ):
        load_image(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png", max_pixels=240000).shape == (400, 600, 3)


@pytest.mark.parametrize("min_side", [50, 100, 134, 199, 200, 300, 534, 1067])
def test_reduced_scale_jpeg_keeps_the_shorter_side(tmp_path, photo, min_side):
    big = Image.fromarray(photo).resize((1600, 1067), Image.Resampling.BILINEAR)
    big.save(tmp_path / "big.jpg")
    img = load_image(tmp_path / "big.jpg", min_side=min_side)
    short = min(img.shape[:2])
    assert short >= min_side
    assert short < 2 * min_side or short == 134  # the largest 1/2^k reduction (at most 1/8) was used
    assert img.shape[1] / img.shape[0] == pytest.approx(1600 / 1067, rel=0.02)


def test_reduced_scale_actually_reduces(tmp_path, photo):
    Image.fromarray(photo).resize((1600, 1067)).save(tmp_path / "big.jpg")
    assert load_image(tmp_path / "big.jpg", min_side=100).shape == (134, 200, 3)  # 1/8 scale
    assert load_image(tmp_path / "big.jpg").shape == (1067, 1600, 3)


@pytest.mark.parametrize(
    "gray, orientation, min_side", [(False, 1, 300), (False, 6, 200), (True, 8, 100), (False, 3, 150)]
)
def test_reduced_scale_jpeg_matches_pil_draft(tmp_path, photo, gray, orientation, min_side):
    from PIL import ImageOps

    img = Image.fromarray(photo).resize((1601, 1069))
    img = img.convert("L") if gray else img
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(tmp_path / "big.jpg", quality=90, exif=exif, progressive=orientation == 3)
    with Image.open(tmp_path / "big.jpg") as ref:  # PIL's own reduced decode, then EXIF orientation
        ref.draft(ref.mode, (-(-1601 * min_side // 1069), min_side))
        expected = np.asarray(ImageOps.exif_transpose(ref).convert("RGB"))
    got = load_image(tmp_path / "big.jpg", min_side=min_side)
    assert min(got.shape[:2]) < 1069 // 1.9  # decoded at reduced scale
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(
        decode_bytes((tmp_path / "big.jpg").read_bytes(), "big.jpg", min_side=min_side), expected
    )


def test_truncated_jpeg_at_reduced_scale_is_reported(tmp_path, photo):
    Image.fromarray(photo).resize((1600, 1067)).save(tmp_path / "full.jpg")
    blob = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match=r"cut\.jpg: truncated or corrupt image"):
        load_image(tmp_path / "cut.jpg", min_side=200)


def test_decode_bytes_matches_the_file(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.png")
    np.testing.assert_array_equal(decode_bytes((tmp_path / "a.png").read_bytes(), "a.png"), photo)
    with pytest.raises(InputError, match=r"^mem: not an image"):
        decode_bytes(b"garbage", "mem")
    with pytest.raises(InputError, match=r"^mem: empty file"):
        decode_bytes(b"", "mem")


def test_iter_files_recurses_sorted_skips_hidden_and_other_files(tmp_path):
    for rel in [
        "b.jpg",
        "a/z.PNG",
        "a/b/c.tif",
        "a.bmp",
        ".hidden.jpg",
        ".cache/x.jpg",
        "notes.txt",
        "clip.mp4",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    rels = [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)]
    assert rels == ["a/b/c.tif", "a/z.PNG", "a.bmp", "b.jpg"]
    assert "clip.mp4" in [p.name for p in iter_files(tmp_path, include_video=True)]
    assert [p.name for p in iter_files(tmp_path, exts={".jpg"})] == ["b.jpg"]
    with pytest.raises(InputError, match=r"notes\.txt: not a folder"):
        iter_files(tmp_path / "notes.txt")


def make_video(path, colors, size=(48, 32), fps=10.0) -> None:
    with VideoWriter(path, fps=fps) as writer:
        for color in colors:
            writer.write(np.full((size[1], size[0], 3), color, np.uint8))
    assert writer.frames == len(colors)


def test_video_round_trip_keeps_rgb_order(tmp_path):
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)] * 3
    make_video(tmp_path / "clip.avi", colors)
    info = video_info(tmp_path / "clip.avi")
    assert (info["width"], info["height"], info["fps"]) == (48, 32, 10.0)
    frames = list(iter_video_frames(tmp_path / "clip.avi"))
    assert [i for i, _ in frames] == list(range(9))
    for (_, frame), color in zip(frames, colors):
        assert frame.shape == (32, 48, 3) and np.abs(frame.mean(axis=(0, 1)) - color).max() < 12


def test_video_writer_mp4_resizes_odd_frames(tmp_path):
    with VideoWriter(tmp_path / "out.mp4", fps=5) as writer:
        writer.write(np.zeros((32, 48, 3), np.uint8))
        writer.write(np.full((20, 20, 3), 255, np.uint8))
    frames = [f for _, f in iter_video_frames(tmp_path / "out.mp4")]
    assert len(frames) == 2 and frames[1].shape == (32, 48, 3) and frames[1].mean() > 200


def test_bad_video_inputs(tmp_path):
    with pytest.raises(InputError, match=r"missing\.mp4: no such video file"):
        list(iter_video_frames(tmp_path / "missing.mp4"))
    (tmp_path / "fake.mp4").write_text("not a video")
    with pytest.raises(InputError, match=r"fake\.mp4: cannot open as a video"):
        list(iter_video_frames(tmp_path / "fake.mp4"))


def test_prefetch_keeps_order_and_reads_a_bounded_window_ahead():
    pulled = []

    def numbers():
        for i in range(50):
            pulled.append(i)
            yield i

    out = []
    for value in prefetch(lambda x: x * 2, numbers(), window=4, workers=2):
        assert len(pulled) <= len(out) + 5  # never more than the window ahead of the consumer
        out.append(value)
    assert out == [2 * i for i in range(50)]


def test_background_reader_forwards_errors_and_stops_early():
    def broken():
        yield 1
        raise ValueError("reader failed")

    it = background(broken(), 2)
    assert next(it) == 1
    with pytest.raises(ValueError, match="reader failed"):
        next(it)
    before = threading.active_count()
    gen = background(iter(range(10_000)), 3)
    assert next(gen) == 0
    gen.close()
    assert threading.active_count() <= before

"""Dataset layouts, the seeded stratified split, image modes, and one-line errors naming the folder."""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train_torchvision_resnext.data import DatasetError, check_image, load_dataset, read_image
from train_torchvision_resnext.sample_data import export_digits


def _tree(root: Path, counts: dict[str, int], size: int = 12) -> Path:
    """root/<class>/<i>.png with distinct real-looking content (gradients), ``counts`` images per class."""
    for c, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = (np.arange(size * size).reshape(size, size) * (c + 1) + i * 7) % 256
            Image.fromarray(arr.astype(np.uint8)).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def digit_tree(tmp_path_factory) -> Path:
    """One <digit>/ tree of real MNIST digits (20 per class, 10 classes), no train/val folders."""
    root = tmp_path_factory.mktemp("tree")
    export_digits(root, {"all": 20}, seed=1)
    return root / "all"


# -- layouts ---------------------------------------------------------------------
def test_train_val_folders_are_used_as_given(tiny_digits):
    split = load_dataset(tiny_digits)
    assert split.layout == "train/val"
    assert split.class_names == ["0", "1", "2"]
    assert len(split.train) == 12 and len(split.val) == 6
    assert all(p.parent.name == split.class_names[c] for p, c in split.train + split.val)
    assert all("/train/" in str(p) for p, _ in split.train) and all("/val/" in str(p) for p, _ in split.val)


def test_single_tree_is_split_stratified(digit_tree):
    split = load_dataset(digit_tree, val_split=0.25, seed=3)
    assert split.layout == "split"
    assert len(split.class_names) == 10
    assert Counter(c for _, c in split.val) == {c: 5 for c in range(10)}  # 25% of 20 in every class
    assert Counter(c for _, c in split.train) == {c: 15 for c in range(10)}
    assert not {p for p, _ in split.train} & {p for p, _ in split.val}


def test_split_is_deterministic_and_depends_on_the_seed(digit_tree):
    first = load_dataset(digit_tree, val_split=0.2, seed=7)
    again = load_dataset(digit_tree, val_split=0.2, seed=7)
    other = load_dataset(digit_tree, val_split=0.2, seed=8)
    assert first.val == again.val and first.train == again.train
    assert {p for p, _ in first.val} != {p for p, _ in other.val}


def test_train_folder_alone_is_split(tmp_path):
    _tree(tmp_path / "train", {"a": 5, "b": 5})
    split = load_dataset(tmp_path, val_split=0.2)
    assert split.layout == "split" and len(split.val) == 2 and len(split.train) == 8


def test_images_are_searched_recursively_and_other_files_ignored(tmp_path):
    _tree(tmp_path / "a" / "deeper", {"x": 2})
    _tree(tmp_path, {"b": 2})
    (tmp_path / "b" / "notes.txt").write_text("not an image")
    split = load_dataset(tmp_path, val_split=0.5)
    assert sorted(len([1 for _, c in split.train + split.val if c == k]) for k in (0, 1)) == [2, 2]


# -- errors (one line, naming the folder) ---------------------------------------------
def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_missing_folder(tmp_path):
    with pytest.raises(
        DatasetError, match=re.escape(f"dataset folder '{tmp_path / 'nope'}' does not exist")
    ) as exc:
        load_dataset(tmp_path / "nope")
    _one_line(exc)


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DatasetError, match="is not a folder"):
        load_dataset(tmp_path / "f.txt")


def test_no_classes(tmp_path):
    (tmp_path / "loose.png").write_bytes(b"")
    with pytest.raises(
        DatasetError, match=re.escape(f"dataset folder '{tmp_path}' has no class sub-folders")
    ) as exc:
        load_dataset(tmp_path)
    _one_line(exc)


def test_class_without_images(tmp_path):
    _tree(tmp_path, {"cat": 3})
    (tmp_path / "dog").mkdir()
    with pytest.raises(
        DatasetError, match=re.escape(f"dataset folder '{tmp_path}': class 'dog' has no (readable) images")
    ):
        load_dataset(tmp_path)


def test_class_whose_images_are_all_unreadable(tmp_path):
    _tree(tmp_path, {"cat": 3})
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DatasetError, match="class 'dog' has no \\(readable\\) images"):
        load_dataset(tmp_path)


def test_train_and_val_classes_differ(tmp_path):
    _tree(tmp_path / "train", {"a": 2, "b": 2, "c": 2})
    _tree(tmp_path / "val", {"a": 1, "b": 1, "d": 1})
    with pytest.raises(
        DatasetError,
        match=re.escape(
            f"dataset folder '{tmp_path}': train/ and val/ have different "
            "classes (only in train/: c; only in val/: d)"
        ),
    ) as exc:
        load_dataset(tmp_path)
    _one_line(exc)


def test_fewer_than_two_classes(tmp_path):
    _tree(tmp_path, {"only": 4})
    with pytest.raises(
        DatasetError,
        match=re.escape(f"dataset folder '{tmp_path}' has only 1 class ('only'); training needs at least 2"),
    ):
        load_dataset(tmp_path)


def test_class_too_small_to_split(tmp_path):
    _tree(tmp_path, {"a": 3, "b": 1})
    with pytest.raises(DatasetError, match="class 'b' has 1 image; splitting off a validation set"):
        load_dataset(tmp_path)


# -- unreadable files, image modes --------------------------------------------------------
def test_unreadable_files_are_skipped_listed_and_not_fatal(tmp_path, tiny_digits, caplog):
    root = tmp_path / "data"
    shutil.copytree(tiny_digits, root)
    good = next((root / "train" / "1").iterdir())
    (root / "train" / "1" / "truncated.png").write_bytes(good.read_bytes()[:60])
    (root / "val" / "2" / "garbage.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    with caplog.at_level(logging.WARNING, logger="train_torchvision_resnext.data"):
        split = load_dataset(root)
    assert sorted(p.name for p, _ in split.skipped) == ["garbage.jpg", "truncated.png"]
    assert all(reason for _, reason in split.skipped)
    assert len(split.train) == 12 and len(split.val) == 6  # the good ones all kept
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "truncated.png" in warnings and "garbage.jpg" in warnings and "skipping 1 unreadable" in warnings


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "1"])
def test_any_image_mode_reads_as_rgb(tmp_path, mode):
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16) * 257)
    else:
        image = Image.fromarray(grey).convert(mode)
    assert image.mode == mode
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    image.save(path)
    values = read_image(path)
    assert values.dtype == np.uint8 and values.shape == (16, 16, 3)
    if mode in ("L", "P", "RGBA", "LA", "I;16"):
        # 16-bit grey is scaled to 8 bits (not clipped to white)
        assert np.abs(values[..., 0].astype(int) - grey).max() <= 1


def test_exif_orientation_is_applied_and_transparency_is_white(tmp_path):
    upright = np.zeros((20, 40, 3), np.uint8)
    upright[:, :10] = (255, 0, 0)  # a red band on the left of a wide picture
    sideways = Image.fromarray(upright).transpose(
        Image.Transpose.ROTATE_90
    )  # 40 high, 20 wide, as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    sideways.save(tmp_path / "phone.jpg", exif=exif, quality=100)
    seen = read_image(tmp_path / "phone.jpg")
    assert seen.shape == (20, 40, 3)
    assert seen[:, :10, 0].min() > 200 and seen[:, :10, 1].max() < 60 and seen[:, 12:].max() < 60

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4] = (0, 0, 255, 255)  # opaque blue top, fully transparent (black) bottom
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    seen = read_image(tmp_path / "cutout.png")
    assert (seen[:4] == (0, 0, 255)).all() and (seen[4:] == 255).all()  # on white, not black


def test_check_image_gives_the_decoders_reason_without_repeating_the_path(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"this is text")
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert check_image(tmp_path / "fake.png") == "not an image (unknown or unsupported format)"
    assert check_image(tmp_path / "empty.jpg") == "empty file (0 bytes)"

"""Find the training and validation images of an image-folder dataset.

Two layouts are accepted::

    root/train/<class>/*.jpg  and  root/val/<class>/*.jpg   (used as given)
    root/<class>/*.jpg  (or root/train/<class>/* alone)      (split per class by ``val_split``, seeded)

Images are decoded by the engine's one decoder, :func:`workflow.core.imaging.load_image`
(EXIF orientation applied, alpha on white, 16-bit scaled, palette/CMYK, bombs
refused), so training sees every file exactly as inference does. Every image is
opened once up front (a cheap reduced-scale decode): unreadable files are skipped
and reported, never fatal. Layout problems raise :class:`DatasetError` with one
line naming the folder. Image file names may be any bytes; class folder names must be
UTF-8 text without control characters or line breaks (they become labels).
"""

from __future__ import annotations

import logging
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from workflow.core.errors import InputError
from workflow.core.files import escape_line_text
from workflow.core.imaging import is_image_file, load_image

log = logging.getLogger(__name__)
CHECK_SIDE = 64  # the up-front check decodes big JPEGs down to about this shorter side

Sample = tuple[Path, int]  # (image file, class index)
_BAD_CLASS_NAME = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")  # not a label


class DatasetError(InputError):
    """The dataset folder cannot be used for training; the message names the folder."""


@dataclass
class DatasetSplit:
    """Training and validation samples of one dataset, with the class names (sorted) they index."""

    root: Path
    class_names: list[str]
    train: list[Sample]
    val: list[Sample]
    layout: str  # "train/val" or "split"
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # unreadable files and why

    def describe(self) -> str:
        return (
            f"{len(self.class_names)} classes, {len(self.train)} training and {len(self.val)} validation images "
            f"({'train/ and val/ folders' if self.layout == 'train/val' else 'seeded split'} of '{self.root}')"
        )


def load_dataset(
    root: str | Path, val_split: float = 0.2, seed: int = 0, check_images: bool = True
) -> DatasetSplit:
    """Scan ``root`` and return its training / validation samples.

    Args:
        root: dataset folder (see the module docstring for layouts).
        val_split: fraction of each class held out when there is no ``val/`` folder.
        seed: seed of that split (the same seed always gives the same split).
        check_images: open every image once and skip the unreadable ones.

    Raises:
        DatasetError: missing folder, no classes, a class without images, train/val classes that
            differ, fewer than 2 classes, or a class too small to split.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset folder '{root}' does not exist")
    if not root.is_dir():
        raise DatasetError(f"dataset folder '{root}' is not a folder")
    train_dir, val_dir = root / "train", root / "val"
    if train_dir.is_dir() and val_dir.is_dir():
        train_classes, val_classes = _class_files(train_dir), _class_files(val_dir)
        if set(train_classes) != set(val_classes):
            only_t = sorted(set(train_classes) - set(val_classes))
            only_v = sorted(set(val_classes) - set(train_classes))
            parts = [
                f"only in train/: {', '.join(only_t)}" if only_t else "",
                f"only in val/: {', '.join(only_v)}" if only_v else "",
            ]
            raise DatasetError(
                f"dataset folder '{root}': train/ and val/ have different classes ({'; '.join(p for p in parts if p)})"
            )
        skipped = []
        if check_images:
            train_classes, skipped = _drop_unreadable(train_dir, train_classes)
            val_classes, skipped_val = _drop_unreadable(val_dir, val_classes)
            skipped += skipped_val
        names = _check_classes(train_dir, train_classes)
        _check_classes(val_dir, val_classes)
        return DatasetSplit(
            root, names, _samples(names, train_classes), _samples(names, val_classes), "train/val", skipped
        )
    tree = train_dir if train_dir.is_dir() else root
    classes = _class_files(tree)
    skipped = []
    if check_images:
        classes, skipped = _drop_unreadable(tree, classes)
    names = _check_classes(tree, classes)
    train, val = split_stratified(tree, names, classes, val_split, seed)
    return DatasetSplit(root, names, train, val, "split", skipped)


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """``{class name: sorted image files}`` of the class sub-folders of ``folder`` (searched recursively)."""
    classes = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _BAD_CLASS_NAME.search(sub.name):
            raise DatasetError(
                f"dataset folder '{escape_line_text(str(folder))}': class folder "
                f"'{escape_line_text(sub.name)}' has a name that is not UTF-8 or holds control characters "
                f"or line breaks; class names become labels in checkpoints and results, rename it"
            )
        classes[sub.name] = sorted(
            p for p in sub.rglob("*") if is_image_file(p) and p.is_file() and not p.name.startswith(".")
        )
    if not classes:
        raise DatasetError(
            f"dataset folder '{folder}' has no class sub-folders "
            f"(expected <class>/<images>, or train/ and val/ each holding <class>/ folders)"
        )
    return classes


def _check_classes(folder: Path, classes: dict[str, list[Path]]) -> list[str]:
    for name, files in classes.items():
        if not files:
            raise DatasetError(f"dataset folder '{folder}': class '{name}' has no (readable) images")
    if len(classes) < 2:
        raise DatasetError(
            f"dataset folder '{folder}' has only 1 class ('{next(iter(classes))}'); training needs at least 2"
        )
    return sorted(classes)


def _samples(names: list[str], classes: dict[str, list[Path]]) -> list[Sample]:
    return [(path, index) for index, name in enumerate(names) for path in classes[name]]


def split_stratified(
    folder: Path, names: list[str], classes: dict[str, list[Path]], val_split: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Hold out ``val_split`` of each class (at least one image, never all), deterministically for ``seed``.

    Raises:
        DatasetError: a class with a single image (it cannot be in both sets).
    """
    train: list[Sample] = []
    val: list[Sample] = []
    for index, name in enumerate(names):
        files = classes[name]
        if len(files) < 2:
            raise DatasetError(
                f"dataset folder '{folder}': class '{name}' has 1 image; splitting off a validation "
                f"set (val_split) needs at least 2 per class, or give train/ and val/ folders"
            )
        n_val = min(len(files) - 1, max(1, round(len(files) * val_split)))
        shuffled = list(files)
        random.Random(f"{seed}/{name}").shuffle(shuffled)  # str seeds hash with sha512: stable across runs
        held = set(shuffled[:n_val])
        train += [(p, index) for p in files if p not in held]
        val += [(p, index) for p in files if p in held]
    return train, val


def read_image(path: Path, min_side: int | None = None):
    """Decode ``path`` as an HxWx3 uint8 RGB array with :func:`workflow.core.imaging.load_image`.

    Args:
        path: the image file.
        min_side: JPEGs may decode at 1/2, 1/4 or 1/8 scale while their shorter side stays >= this.

    Raises:
        InputError: the file cannot be decoded (one line naming it).
    """
    return load_image(path, min_side=min_side)


def check_image(path: Path) -> str | None:
    """None when ``path`` decodes (with the same decoder as training, at reduced scale), else why not (one
    line)."""
    try:
        read_image(path, min_side=CHECK_SIDE)
    except InputError as exc:
        return str(exc).removeprefix(f"{path}: ")
    return None


def _drop_unreadable(
    folder: Path, classes: dict[str, list[Path]]
) -> tuple[dict[str, list[Path]], list[tuple[Path, str]]]:
    files = [p for paths in classes.values() for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        reasons = dict(zip(files, pool.map(check_image, files)))
    skipped = [(p, r) for p, r in reasons.items() if r is not None]
    if skipped:
        shown = ", ".join(
            f"{escape_line_text(str(p.relative_to(folder)))} ({escape_line_text(r)})" for p, r in skipped[:5]
        )
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        log.warning(
            "dataset folder '%s': skipping %d unreadable image file(s): %s%s",
            folder,
            len(skipped),
            shown,
            more,
        )
    return {c: [p for p in paths if reasons[p] is None] for c, paths in classes.items()}, skipped

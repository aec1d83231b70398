"""The ``dataset_classification`` task (Ikomia hub's dataset loader): a classification dataset folder, split on
request into ``train/<class>/`` and ``val/<class>/``, handed to training as a ``Dataset`` path.

Without ``split_dataset`` the folder passes through unchanged and must already hold ``train/`` and ``val/``.
With it, the images directly inside each class folder of ``dataset_folder`` are shuffled with ``seed`` and
``int(n * dataset_split_ratio)`` of them are copied to ``train/<class>/``, the rest to ``val/<class>/``, in
``output_folder`` (default: ``dataset_classification_<YYYYmmdd_HHMMSS>`` beside ``dataset_folder``), as
Ikomia's plugin does. File names are sorted before the shuffle, so a seed gives the same split on every file
system. Splitting again into a folder that holds exactly that split reuses it; any other content there is an
error (a stale split would leak validation images into training).

Untrusted folders are bounded: symlinks, hidden entries and special files are skipped (with a warning naming
them), and the numbers of classes, scanned entries and bytes per image are capped.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import stat
import time
from pathlib import Path

from pydantic import Field

from workflow.core.errors import InputError, ParamError
from workflow.core.files import escape_line_text
from workflow.core.imaging import is_image_file
from workflow.core.params import TaskParams, path_field
from workflow.core.ports import Dataset, Port
from workflow.core.task import Task

log = logging.getLogger(__name__)
MAX_CLASSES = 10_000
MAX_ENTRIES = 2_000_000  # directory entries scanned in all (images, other files, folders)
MAX_IMAGE_BYTES = 512 * 2**20  # a larger "image" is skipped, not copied
MAX_NAMED = 5  # skipped entries named in a warning


class DatasetFolderError(InputError):
    """The dataset folder cannot be loaded or split; the message names the folder or file."""


class DatasetClassificationParams(TaskParams):
    """Ikomia's parameters of ``dataset_classification``, with its defaults."""

    dataset_folder: str | None = path_field(
        None,
        description="folder of the dataset: train/ and val/ of <class>/ folders, or (split_dataset) one "
        "<class>/ folder per class",
    )
    split_dataset: bool = Field(
        False, description="copy the class folders' images into train/ and val/ in output_folder"
    )
    dataset_split_ratio: float = Field(
        0.8, gt=0, lt=1, description="share of each class's images copied to train/ (int(n * ratio))"
    )
    output_folder: str | None = path_field(
        None,
        must_exist=False,
        description="where the split is written (default: dataset_classification_<timestamp> beside "
        "dataset_folder)",
    )
    seed: int = Field(42, ge=0, le=2**32 - 1, description="seed of the shuffle before the split")


class DatasetClassification(Task):
    """Load a classification dataset folder (optionally splitting it into train/ and val/) for training."""

    name = "dataset_classification"
    description = "Classification dataset folder for training, split into train/ and val/ on request"
    Params = DatasetClassificationParams
    inputs = ()
    outputs = (Port("dataset", Dataset, description="the folder holding train/ and val/"),)

    def run(self) -> None:
        p = self.params
        if not p.dataset_folder:
            raise ParamError(
                f"task '{self.id}': parameter 'dataset_folder' is empty: set it to a dataset folder"
            )
        source = Path(p.dataset_folder).expanduser()
        if not source.is_dir():
            raise DatasetFolderError(
                f"task '{self.id}': parameter 'dataset_folder': '{source}' is not a folder"
            )
        if not p.split_dataset:
            missing = [part for part in ("train", "val") if not (source / part).is_dir()]
            if missing:
                raise DatasetFolderError(
                    f"task '{self.id}': dataset folder '{source}' has no {' and no '.join(missing)} folder: "
                    "set split_dataset to True to split its class folders (dataset_split_ratio)"
                )
            self.set_output("dataset", p.dataset_folder)
            return
        target = split_folder(source, p.output_folder, p.dataset_split_ratio, p.seed, task_id=self.id)
        self.set_output("dataset", str(target))


def split_folder(
    source: Path,
    output_folder: str | None,
    ratio: float,
    seed: int,
    *,
    task_id: str = "dataset_classification",
) -> Path:
    """Copy each class folder's images of ``source`` into ``train/<class>/`` and ``val/<class>/``; return the
    destination folder.

    Raises:
        DatasetFolderError: no class folders, too many classes or entries, a destination inside ``source``,
            or a destination holding anything but this very split.
    """
    if (source / "train").is_dir() and (source / "val").is_dir():
        raise DatasetFolderError(
            f"task '{task_id}': dataset folder '{source}' already holds train/ and val/: set split_dataset to "
            "False to use them as they are"
        )
    classes = _class_images(source, task_id)
    plan = []  # (source file, path relative to the destination)
    for name, files in classes.items():
        files = sorted(files, key=lambda f: f.name)
        random.Random(seed).shuffle(files)
        cut = int(len(files) * ratio)
        parts = (("train", files[:cut]), ("val", files[cut:]))
        for part, chosen in parts:
            plan += [(f, Path(part) / name / f.name) for f in chosen]
        empty = [part for part, chosen in parts if not chosen]
        if empty:
            log.warning(
                "task '%s': class '%s' of '%s' has %d image(s): its %s part is empty (training needs images in "
                "both train/ and val/)",
                task_id,
                escape_line_text(name),
                source,
                len(files),
                " and ".join(empty),
            )
    target = _destination(source, output_folder, task_id)
    wanted = {rel for _, rel in plan}
    existing = _existing_split(target)
    if existing and existing != wanted:
        raise DatasetFolderError(
            f"task '{task_id}': output folder '{target}' already holds train/ or val/ files that are not this "
            f"split of '{source}' (another seed, ratio or dataset): choose another output_folder or empty it"
        )
    for name in classes:
        for part in ("train", "val"):
            (target / part / name).mkdir(parents=True, exist_ok=True)
    if existing:
        log.info("task '%s': '%s' already holds this split; reused", task_id, target)
    else:
        for src, rel in plan:
            shutil.copyfile(src, target / rel)
        counts = {part: sum(rel.parts[0] == part for rel in wanted) for part in ("train", "val")}
        log.info(
            "task '%s': %d classes split into '%s': %d train and %d val images",
            task_id,
            len(classes),
            target,
            counts["train"],
            counts["val"],
        )
    return target


def _class_images(source: Path, task_id: str) -> dict[str, list[Path]]:
    """``{class: image files}`` of the class folders directly inside ``source`` (their images directly inside
    them), skipping hidden entries, symlinks, special files and over-large files."""
    classes: dict[str, list[Path]] = {}
    skipped: list[str] = []
    scanned = 0
    for entry in _scan(source):
        scanned += 1
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            if entry.is_symlink():
                skipped.append(f"{entry.name} (symlink)")
            continue
        if len(classes) >= MAX_CLASSES:
            raise DatasetFolderError(
                f"task '{task_id}': dataset folder '{source}' has more than {MAX_CLASSES} class folders"
            )
        files = []
        for item in _scan(Path(entry.path)):
            scanned += 1
            if scanned > MAX_ENTRIES:
                raise DatasetFolderError(
                    f"task '{task_id}': dataset folder '{source}' holds more than {MAX_ENTRIES} entries"
                )
            if item.name.startswith(".") or not is_image_file(item.name):
                continue
            why = _not_copied(item)
            if why:
                skipped.append(f"{entry.name}/{item.name} ({why})")
            else:
                files.append(Path(item.path))
        if not files:
            log.warning("task '%s': no image found in class folder '%s'", task_id, entry.path)
        classes[entry.name] = files
    if skipped:
        shown = ", ".join(escape_line_text(s) for s in skipped[:MAX_NAMED])
        more = f" and {len(skipped) - MAX_NAMED} more" if len(skipped) > MAX_NAMED else ""
        log.warning(
            "task '%s': dataset folder '%s': skipped %d entr%s: %s%s",
            task_id,
            source,
            len(skipped),
            "y" if len(skipped) == 1 else "ies",
            shown,
            more,
        )
    if not classes:
        raise DatasetFolderError(
            f"task '{task_id}': dataset folder '{source}' has no class folders to split (expected <class>/<images>)"
        )
    return dict(sorted(classes.items()))


def _scan(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            entries = []
            for entry in it:
                entries.append(entry)
                if len(entries) > MAX_ENTRIES:
                    raise DatasetFolderError(f"folder '{folder}' holds more than {MAX_ENTRIES} entries")
            return entries
    except OSError as exc:
        raise DatasetFolderError(
            f"cannot list folder '{folder}' ({exc.strerror or type(exc).__name__})"
        ) from None


def _not_copied(entry: os.DirEntry) -> str:
    """Why ``entry`` is not copied ("" when it is a regular image file of a sane size)."""
    if entry.is_symlink():
        return "symlink"
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_IMAGE_BYTES:
        return f"{st.st_size} bytes, more than {MAX_IMAGE_BYTES}"
    return ""


def _destination(source: Path, output_folder: str | None, task_id: str) -> Path:
    """``output_folder`` (created), or a new ``dataset_classification_<stamp>`` folder beside ``source``."""
    if not output_folder:
        stamp = time.strftime("%Y%m%d_%H%M%S")
        for n in range(1, 1000):
            target = source.resolve().parent / f"dataset_classification_{stamp}{'' if n == 1 else f'_{n}'}"
            try:
                target.mkdir()
                return target
            except FileExistsError:
                continue
        raise DatasetFolderError(f"task '{task_id}': too many splits of '{source}' started at {stamp}")
    target = Path(output_folder).expanduser()
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise ParamError(
            f"task '{task_id}': parameter 'output_folder': '{target}' is inside dataset_folder '{source}' "
            "(the split would become a class folder): choose a folder outside it"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParamError(
            f"task '{task_id}': parameter 'output_folder': cannot create '{target}' "
            f"({exc.strerror or type(exc).__name__})"
        ) from None
    return target


def _existing_split(target: Path) -> set[Path]:
    """Files already under ``target/train`` and ``target/val`` (relative to ``target``)."""
    found = set()
    for part in ("train", "val"):
        if not (target / part).is_dir():
            continue
        for cls in _scan(target / part):
            if cls.is_dir(follow_symlinks=False):
                found |= {Path(part) / cls.name / f.name for f in _scan(Path(cls.path))}
            else:
                found.add(Path(part) / cls.name)
    return found


__all__ = ["DatasetClassification", "DatasetClassificationParams", "DatasetFolderError", "split_folder"]

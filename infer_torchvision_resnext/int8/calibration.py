"""Calibration images of the user's domain: pick them from a folder, prepare them, build or reuse the INT8
model."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infer_torchvision_resnext.int8.cache import (
    Int8Entry,
    cache_folder,
    calibration_id,
    entry_key,
    file_sha256,
    find_entry,
    prune,
    save_int8,
)
from infer_torchvision_resnext.int8.quantize import (
    MAX_CALIBRATION,
    measure_agreement,
    quantize_model,
    sync_infer,
)
from workflow.core.errors import SetupError
from workflow.core.imaging import is_image_file, load_image

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.recipe import Preprocessing

log = logging.getLogger(__name__)

MAX_CHECK = 100  # held-out images for the agreement check
MAX_LISTED = 100_000  # folder entries looked at, at most


def calibration_files(folder: str | os.PathLike, *, task_id: str = "") -> list[Path]:
    """Up to ``MAX_CALIBRATION + MAX_CHECK`` image files of ``folder`` (recursive), spread evenly over its
    sorted list.

    Raises:
        SetupError: the folder is missing or holds no image file.
    """
    who = f"task '{task_id}': " if task_id else ""
    root = Path(folder)
    if not root.is_dir():
        raise SetupError(f"{who}calibration_folder '{folder}' is not a folder")
    files: list[Path] = []
    for seen, (dirpath, dirnames, names) in enumerate(os.walk(root)):
        dirnames.sort()
        files += [Path(dirpath, n) for n in sorted(names) if is_image_file(n)]
        if seen >= MAX_LISTED or len(files) >= MAX_LISTED:
            break
    if not files:
        raise SetupError(
            f"{who}calibration_folder '{folder}' holds no image file (.jpg, .png, ...): "
            f"int8 needs a few hundred images like the ones to classify"
        )
    limit = MAX_CALIBRATION + MAX_CHECK
    if len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    return files


def load_crops(files: list[Path], prep: Preprocessing) -> list[np.ndarray]:
    """The crops the model sees for each file (the inference preprocessing; unreadable files are an error)."""
    from infer_torchvision_resnext.preprocess import preprocess

    return [preprocess(load_image(f, min_side=prep.resize_size), prep) for f in files]


def split(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(calibration, check): every 4th file is held out for the check when there are enough files, else all
    check."""
    if len(files) < 2 * MAX_CHECK:
        return files, files
    check = files[3::4][:MAX_CHECK]
    held = set(check)
    return [f for f in files if f not in held][:MAX_CALIBRATION], check


def int8_from_folder(
    fp32_model,
    compile_fp32: Callable[[Any], Any],
    weights: str | os.PathLike,
    prep: Preprocessing,
    folder: str | os.PathLike,
    *,
    task_id: str = "",
) -> Int8Entry:
    """The INT8 model of ``weights`` calibrated on ``folder``: from the cache, or quantized (and cached) now.

    Args:
        fp32_model: a zero-argument callable giving the fp32 ``openvino.Model`` (called only on a cache miss).
        compile_fp32: compiles an ``openvino.Model`` for the agreement check.
        weights: the weights file (its SHA-256 keys the cache).
    """
    files = calibration_files(folder, task_id=task_id)
    weights_sha = file_sha256(weights)
    cid = calibration_id(files)
    prep_dict = prep.to_dict()
    found = find_entry(weights_sha, prep_dict, calibration=cid)
    if found is not None:
        log.info(
            "INT8 model of '%s' calibrated on '%s' found in the cache (%s)",
            weights,
            folder,
            found.folder.name,
        )
        return found
    cal, check = split(files)
    model = fp32_model()
    quantized = quantize_model(model, load_crops(cal, prep))
    agreement = measure_agreement(
        sync_infer(compile_fp32(model)), sync_infer(compile_fp32(quantized)), load_crops(check, prep)
    )
    entry = save_int8(
        cache_folder(weights_sha, entry_key(weights_sha, prep_dict, cid)),
        quantized,
        weights=weights,
        prep=prep,
        calibration_id=cid,
        calibration={"folder": os.fspath(folder), "images": len(cal)},
        check=agreement,
        checked_on="held-out images" if check is not cal else "calibration images",
    )
    prune()
    log.info(
        "INT8 model of '%s' calibrated on %d images of '%s': top-1 agreement with fp32 %.1f%% on %d images",
        weights,
        len(cal),
        folder,
        100 * agreement.agreement,
        agreement.images,
    )
    return entry

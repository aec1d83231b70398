"""Checks on an untrusted checkpoint file before and after ``torch.load``: archive sizes, manifest shape,
weights, and the head against the class names; every refusal is a :class:`CheckpointError`.

Before loading: the file must be a regular file holding a zip archive (torch's format since 1.6) whose
entries declare no more bytes than the file holds (torch stores entries uncompressed, so a deflated
entry can only be a bomb) and no more than the largest model of the family needs. After loading: the
manifest is checked field by field (types, lengths, ranges) before anything iterates over it, and the
state dict must map string keys to finite tensors. :func:`find_state_dict` and :func:`check_class_count`
serve both the declared tree (before loading) and the loaded one. Every refusal names the file and the
field.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

from workflow.core.errors import SetupError
from workflow.core.limits import TooLarge, check_expansion, excerpt

MAX_CHECKPOINT_BYTES = 2 << 30  # far above any ResNeXt checkpoint with optimizer state (~1 GB for 101_64x4d)
MAX_CLASSES = 100_000
MAX_CLASS_NAME = 1_000
MAX_ARCH_NAME = 64
MAX_SIDE = 4096
MAX_FORMAT_VERSION = 1_000
MAX_METRIC_VALUES = 100_000
ZIP_SLACK = 1 << 20  # zip headers and padding besides the declared entry sizes


HEAD_KEYS = ("fc.weight", "module.fc.weight")  # the classifier head, bare or under DDP's prefix


class CheckpointError(SetupError):
    """A checkpoint or class file cannot be used; the message names the file (and the field)."""


def check_archive(path: Path) -> None:
    """Refuse a file that is not a regular file, not a zip, or whose entries declare more than it can hold.

    Raises:
        CheckpointError: special file, too large, not a zip (legacy pickle files allocate what they declare),
            compressed entries, or declared sizes beyond the file's size.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CheckpointError(f"checkpoint '{path}' cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"checkpoint '{path}' is not a regular file")
    if st.st_size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint '{path}' is {st.st_size} bytes (limit {MAX_CHECKPOINT_BYTES})")
    if not zipfile.is_zipfile(path):
        return  # not an archive: torch.load reports it as truncated or not a torch file
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or not a torch file ({excerpt(str(exc), 100)})"
        ) from None
    declared = 0
    for info in entries:
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > info.compress_size + 1024:
            raise CheckpointError(
                f"checkpoint '{path}': entry '{excerpt(info.filename, 80)}' is compressed to "
                f"{info.compress_size} of {info.file_size} declared bytes (torch stores entries as they are)"
            )
        declared += info.file_size
    if declared > st.st_size + ZIP_SLACK:
        raise CheckpointError(
            f"checkpoint '{path}': its entries declare {declared} bytes but the file holds {st.st_size}"
        )


def check_manifest(raw: Any, path: Path, known_archs: set[str] | None = None) -> None:
    """Check the shape, sizes and values of a manifest (declared or loaded) before it is used.

    Raises:
        CheckpointError: the first bad field, named with a short excerpt of its value.
    """

    def bad(field: str, why: str, value: Any = None) -> CheckpointError:
        shown = "" if value is None else f" (got {excerpt(value, 80)})"
        return CheckpointError(f"checkpoint '{path}': manifest field '{field}' {why}{shown}")

    if not isinstance(raw, dict):
        raise bad("manifest", "must be a mapping", raw)
    try:
        check_expansion(raw, max_values=MAX_CLASSES + MAX_METRIC_VALUES + 100, max_depth=16)
    except TooLarge as exc:
        raise bad("manifest", f"is too large: {exc}") from None
    version = raw.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_FORMAT_VERSION:
        raise bad("format_version", f"must be an integer from 1 to {MAX_FORMAT_VERSION}", version)
    arch = raw.get("arch")
    if not isinstance(arch, str) or not 0 < len(arch) <= MAX_ARCH_NAME:
        raise bad("arch", f"must be an architecture name (text of at most {MAX_ARCH_NAME} characters)", arch)
    if known_archs is not None and arch not in known_archs:
        raise bad("arch", f"names no known architecture ({', '.join(sorted(known_archs))})", arch)
    names = raw.get("class_names")
    if not isinstance(names, list) or not 0 < len(names) <= MAX_CLASSES:
        raise bad("class_names", f"must be a list of 1 to {MAX_CLASSES} names", names)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not 0 < len(name) <= MAX_CLASS_NAME:
            raise bad("class_names", f"item {i} must be a text of 1 to {MAX_CLASS_NAME} characters", name)
    check_preprocessing(raw.get("preprocessing"), bad)
    metrics = raw.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise bad("metrics", "must be a mapping", metrics)
    created = raw.get("created_by", "")
    if not isinstance(created, str) or len(created) > 200:
        raise bad("created_by", "must be a text of at most 200 characters", created)


def check_preprocessing(prep: Any, bad) -> None:
    """Check a manifest's ``preprocessing`` mapping (sizes, mean/std, interpolation)."""
    if not isinstance(prep, dict):
        raise bad("preprocessing", "must be a mapping", prep)
    for key in ("crop_size", "resize_size"):
        value = prep.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
            raise bad(f"preprocessing.{key}", f"must be an integer from 1 to {MAX_SIDE}", value)
    if prep["resize_size"] < prep["crop_size"]:
        raise bad(
            "preprocessing.resize_size",
            f"must be at least crop_size ({prep['crop_size']})",
            prep["resize_size"],
        )
    for key in ("mean", "std"):
        if key not in prep:
            continue
        value = prep[key]
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise bad(f"preprocessing.{key}", "must be a list of 3 numbers (R, G, B)", value)
        for v in value:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or abs(v) > 1e6:
                raise bad(f"preprocessing.{key}", "must hold finite numbers", value)
            if key == "std" and v <= 0:
                raise bad("preprocessing.std", "must be positive", value)
    interp = prep.get("interpolation", "bilinear")
    if not isinstance(interp, str) or len(interp) > 20:
        raise bad("preprocessing.interpolation", "must be a text", interp)


def check_state_dict(state_dict: Any, path: Path) -> None:
    """String keys to finite tensors; refuses NaN/inf weights naming the first bad key."""
    import torch

    if not isinstance(state_dict, dict):
        raise CheckpointError(
            f"checkpoint '{path}': field 'state_dict' must be a mapping (got {type(state_dict).__name__})"
        )
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise CheckpointError(f"checkpoint '{path}': state_dict key {excerpt(key, 60)} is not a text")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"checkpoint '{path}': state_dict entry '{excerpt(key, 80)}' is not a tensor "
                f"(got {type(value).__name__})"
            )
        if value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"checkpoint '{path}': state_dict entry '{excerpt(key, 80)}' holds NaN or infinite values"
            )


def find_state_dict(tree: Any) -> dict | None:
    """The state dict in a file's object tree (declared or loaded): the tree itself, or its ``state_dict`` or
    ``model`` entry, whichever first is a mapping holding the ``fc`` head (bare or DDP-prefixed); else None."""
    for candidate in (
        tree,
        tree.get("state_dict") if isinstance(tree, dict) else None,
        tree.get("model") if isinstance(tree, dict) else None,
    ):
        if isinstance(candidate, dict) and any(k in candidate for k in HEAD_KEYS):
            return candidate
    return None


def ddp_prefix(state_dict: dict) -> str:
    """``"module."`` when DDP / DataParallel put it on every key, else ``""``."""
    if state_dict and all(isinstance(k, str) and k.startswith("module.") for k in state_dict):
        return "module."
    return ""


def head_size(state_dict: dict) -> int | None:
    """Outputs of the ``fc`` head (a loaded tensor or a declared one), None without a 2-D head."""
    head = state_dict.get(HEAD_KEYS[0], state_dict.get(HEAD_KEYS[1]))
    shape = getattr(head, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) == 2 else None


def check_class_count(path: Path, state_dict: dict, classes: int) -> None:
    """Refuse ``classes`` class names for a head of another size (a state dict without a 2-D head passes)."""
    n_head = head_size(state_dict)
    if n_head is not None and n_head != classes:
        raise CheckpointError(
            f"checkpoint '{path}': {classes} class names given but the model head (fc) has {n_head} outputs"
        )


def mismatch_detail(missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    """How a state dict misses an architecture, in one line: counts of each kind with a first example."""
    return "; ".join(
        p
        for p in (
            f"{len(missing)} missing keys (e.g. {missing[0]})" if missing else "",
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})" if unexpected else "",
            f"{len(shapes)} shape mismatches (e.g. {shapes[0]})" if shapes else "",
        )
        if p
    )

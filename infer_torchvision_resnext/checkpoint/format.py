"""The checkpoint file format shared by training (writes) and inference (reads).

One ``torch.save`` file::

    {"format": "workflow-resnext-checkpoint", "manifest": {...}, "state_dict": {...}, "extra": {...}}

Everything in it loads with ``torch.load(weights_only=True)``; a file that needs
pickle code is refused. Plain torchvision state dicts are accepted too when the
architecture (and a class-name file) are given.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infer_torchvision_resnext.checkpoint._checks import (
    CheckpointError,
    check_archive,
    check_class_count,
    check_manifest,
    check_state_dict,
    ddp_prefix,
    find_state_dict,
    head_size,
    mismatch_detail,
)
from infer_torchvision_resnext.checkpoint._layout import precheck
from infer_torchvision_resnext.models import (
    ARCHS,
    create_model,
    imagenet_categories,
    resolve_arch,
    resolve_weights,
    weights_file_name,
)
from infer_torchvision_resnext.recipe import Preprocessing
from workflow.core.errors import SetupError, WorkflowError
from workflow.core.files import atomic_target, read_regular_file

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FORMAT_TAG = "workflow-resnext-checkpoint"
MAX_CLASS_FILE_BYTES = 16 << 20


@dataclass
class Manifest:
    """What a checkpoint's weights mean: architecture, class names, preprocessing, training metrics."""

    format_version: int
    arch: str
    class_names: list[str]
    preprocessing: Preprocessing
    metrics: dict[str, Any] = field(default_factory=dict)
    created_by: str = "train_torchvision_resnext"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["preprocessing"] = self.preprocessing.to_dict()
        out["class_names"] = list(self.class_names)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            int(data["format_version"]),
            str(data["arch"]),
            [str(c) for c in data["class_names"]],
            Preprocessing.from_dict(data["preprocessing"]),
            dict(data.get("metrics") or {}),
            str(data.get("created_by", "train_torchvision_resnext")),
        )


@dataclass
class Checkpoint:
    """A loaded checkpoint: state dict, manifest, extra training state and the file it came from."""

    state_dict: dict[str, Any]
    manifest: Manifest
    extra: dict[str, Any]
    path: Path


def _strip_module_prefix(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Drop the ``module.`` prefix DDP / DataParallel put on every key."""
    prefix = ddp_prefix(state_dict)
    return {k[len(prefix) :]: v for k, v in state_dict.items()} if prefix else dict(state_dict)


def save_checkpoint(
    path: str | os.PathLike, model_or_state_dict, manifest: Manifest, extra: dict | None = None
) -> Path:
    """Write a checkpoint atomically (:func:`workflow.core.files.atomic_target`) and return its path.

    Args:
        path: destination file (its folder is created).
        model_or_state_dict: a module (its ``state_dict()`` is saved) or a state dict.
        manifest: what the weights mean.
        extra: training state (optimizer, epoch...), loadable with ``weights_only=True``.
    """
    import torch

    path = Path(path)
    state = (
        model_or_state_dict.state_dict()
        if isinstance(model_or_state_dict, torch.nn.Module)
        else model_or_state_dict
    )
    payload = {
        "format": FORMAT_TAG,
        "manifest": manifest.to_dict(),
        "state_dict": _strip_module_prefix(state),
        "extra": extra or {},
    }
    with atomic_target(path) as tmp:
        torch.save(payload, tmp)
    return path


def resolve_checkpoint_arch(
    manifest_arch: str, model_name: str, explicit: bool, *, task_id: str, path: str | os.PathLike
) -> str:
    """The architecture to build for a checkpoint: the one rule both plugins follow.

    The manifest decides. A ``model_name`` left at its default follows it (one INFO line);
    a ``model_name`` set explicitly that names another architecture is an error.

    Args:
        manifest_arch: the architecture the checkpoint's manifest names.
        model_name: the task's ``model_name`` parameter (short or full name).
        explicit: whether the user set ``model_name`` (``"model_name" in params.model_fields_set``).
        task_id: named in the log line and the error.
        path: the checkpoint file, named in the log line and the error.

    Raises:
        SetupError: ``model_name`` was set explicitly to another architecture than the manifest's.
    """
    arch = resolve_arch(manifest_arch)
    wanted = resolve_arch(model_name)
    if wanted == arch:
        return arch
    if explicit:
        raise SetupError(
            f"task '{task_id}': parameter 'model_name' is '{model_name}' ({wanted}) but checkpoint "
            f"'{path}' holds a {arch}; set model_name to the checkpoint's architecture or leave it out"
        )
    log.info(
        "task '%s': checkpoint '%s' holds a %s; model_name (default %s) follows it",
        task_id,
        path,
        arch,
        wanted,
    )
    return arch


def read_class_file(path: str | os.PathLike) -> list[str]:
    """Class names, one per non-empty line (surrounding spaces stripped).

    Raises:
        CheckpointError: missing, unreadable, not a regular file, larger than 16 MB, or empty file.
    """
    path = Path(path)
    try:
        text = read_regular_file(path, MAX_CLASS_FILE_BYTES, "class file").decode("utf-8")
    except WorkflowError as exc:
        raise CheckpointError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"class file '{path}' cannot be read: {type(exc).__name__}: {exc}") from None
    names = [n for n in (line.strip() for line in text.splitlines()) if n]
    if not names:
        raise CheckpointError(f"class file '{path}' has no class names (expected one name per line)")
    return names


def _torch_load(path: Path, map_location, arch: str | None = None) -> Any:
    import torch

    if not path.is_file():
        raise CheckpointError(
            f"checkpoint '{path}' does not exist"
            if not path.exists()
            else f"checkpoint '{path}' is not a file"
        )
    check_archive(path)  # declared sizes before torch.load allocates them
    if zipfile.is_zipfile(path):
        # tensors against the architecture, nothing allocated
        precheck(path, FORMAT_TAG, FORMAT_VERSION, arch)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # the file names a Python callable: loading would run code
            raise CheckpointError(
                f"checkpoint '{path}' refused: it needs arbitrary pickle code to load "
                f"(only tensors, dicts, lists, numbers and strings are allowed)"
            ) from None
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or not a torch file ({' '.join(str(exc).split())[:160]})"
        ) from None
    except Exception as exc:  # zip / pickle / IO errors of a damaged file all mean the same to the user
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or not a torch file "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
        ) from None


def load_checkpoint(
    path: str | os.PathLike,
    map_location="cpu",
    *,
    arch: str | None = None,
    class_names: list[str] | None = None,
    preprocessing: Preprocessing | None = None,
) -> Checkpoint:
    """Load a checkpoint (our format, or a plain state dict plus ``arch``/``class_names``).

    Args:
        path: the file.
        map_location: as for ``torch.load``.
        arch: architecture of a plain state dict (our format carries its own in the manifest).
        class_names: names for a plain state dict, or to override a checkpoint's names (counts must match).
            A plain state dict with 1000 outputs and no names gets the ImageNet categories.
        preprocessing: for a plain state dict; default: the recipe of the torchvision weights whose file
            name it has (a copy of the hub cache file), else the arch's DEFAULT weights'.

    Raises:
        CheckpointError: missing / truncated / pickle-code file, missing manifest, class count mismatch.
    """
    path = Path(path)
    obj = _torch_load(path, map_location, arch)
    if isinstance(obj, dict) and obj.get("format") == FORMAT_TAG:
        if not isinstance(obj.get("manifest"), dict):
            raise CheckpointError(f"checkpoint '{path}' has no manifest")
        check_manifest(obj["manifest"], path, set(ARCHS))  # shape and sizes before any use
        try:
            manifest = Manifest.from_dict(obj["manifest"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"checkpoint '{path}' has an invalid manifest ({type(exc).__name__}: {exc})"
            ) from None
        if manifest.format_version > FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint '{path}' has format version {manifest.format_version}; "
                f"this version reads up to {FORMAT_VERSION}"
            )
        state_dict = obj.get("state_dict")
        if not isinstance(state_dict, dict):
            raise CheckpointError(f"checkpoint '{path}' has no state_dict")
        check_state_dict(state_dict, path)
        if not isinstance(obj.get("extra") or {}, dict):
            raise CheckpointError(f"checkpoint '{path}': field 'extra' must be a mapping")
        if class_names is not None:
            manifest.class_names = list(class_names)
        check_class_count(path, state_dict, len(manifest.class_names))
        return Checkpoint(state_dict, manifest, dict(obj.get("extra") or {}), path)
    state_dict = find_state_dict(obj)
    if state_dict is None:
        raise CheckpointError(f"checkpoint '{path}' has no manifest and is not a plain ResNeXt state dict")
    check_state_dict(state_dict, path)
    state_dict = _strip_module_prefix(state_dict)
    if arch is None:
        raise CheckpointError(
            f"checkpoint '{path}' is a plain state dict without a manifest: give its architecture "
            f"(model_name) and a class file"
        )
    arch = resolve_arch(arch)
    if class_names is None:
        if head_size(state_dict) != 1000:
            raise CheckpointError(
                f"checkpoint '{path}' is a plain state dict with {head_size(state_dict)} outputs: "
                f"give a class file (one name per line)"
            )
        class_names = imagenet_categories(arch)
    check_class_count(path, state_dict, len(class_names))
    prep = preprocessing or Preprocessing.from_weights(
        _weights_named_like(path, arch) or resolve_weights(arch)
    )
    manifest = Manifest(FORMAT_VERSION, arch, list(class_names), prep, {}, "torchvision state dict")
    return Checkpoint(state_dict, manifest, {}, path)


def _weights_named_like(path: Path, arch: str):
    """The torchvision weights whose download file name is ``path``'s (e.g. a copied hub cache file), else
    None."""
    from torchvision.models import get_model_weights

    return next((w for w in get_model_weights(arch) if weights_file_name(w) == path.name), None)


def build_model(checkpoint: Checkpoint) -> torch.nn.Module:
    """The model of ``checkpoint`` with its weights loaded (strict).

    Raises:
        CheckpointError: the state dict belongs to another architecture or head size.
    """
    import torch

    arch = checkpoint.manifest.arch
    with torch.device("meta"):  # every tensor comes from the file: skip the (slow) random init
        model = create_model(arch, num_classes=len(checkpoint.manifest.class_names))
    try:
        model.load_state_dict(checkpoint.state_dict, strict=True, assign=True)
    except RuntimeError as exc:
        missing, unexpected, shapes = _diff_keys(model, checkpoint.state_dict)
        detail = mismatch_detail(missing, unexpected, shapes)
        raise CheckpointError(
            f"checkpoint '{checkpoint.path}' does not fit architecture {arch}: {detail or exc}"
        ) from None
    return model.float()


def _diff_keys(model, state_dict: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k}: {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict
        and hasattr(state_dict[k], "shape")
        and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    return missing, unexpected, shapes


__all__ = [
    "FORMAT_VERSION",
    "FORMAT_TAG",
    "CheckpointError",
    "Manifest",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "read_class_file",
    "build_model",
    "resolve_checkpoint_arch",
]

"""Where a classifier's weights come from: a checkpoint (file or the ``model`` port) or torchvision's weights.

:func:`resolve_source` reads the class file and the checkpoint named by a
:class:`~.params.ClassifierConfig` (or makes sure the
pretrained weights are in the hub cache) and returns a :class:`ModelSource`: the
architecture, class names, preprocessing and a factory building the torch model
only when a backend needs it. Every failure here is the same for every image, so
it is a :class:`workflow.core.errors.SetupError` naming the task and the parameter.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infer_torchvision_resnext.checkpoint.format import (
    CheckpointError,
    build_model,
    load_checkpoint,
    read_class_file,
    resolve_checkpoint_arch,
)
from infer_torchvision_resnext.models import (
    ModelSetupError,
    create_model,
    ensure_weights_available,
    pick_weights,
    resolve_arch,
    weights_cache_path,
)
from infer_torchvision_resnext.recipe import Preprocessing
from workflow.core.errors import ParamError, SetupError

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.params import ClassifierConfig


@dataclass
class ModelSource:
    """What to load: architecture, class names, preprocessing and how to build the torch model.

    ``factory`` builds the torch model only when a backend needs it (an OpenVINO cache hit
    does not). ``cache_key`` identifies the weights for the OpenVINO cache; ``where`` names the
    parameter (or port) the weights came from, for errors raised while building the model.
    """

    arch: str
    class_names: list[str]
    prep: Preprocessing
    cache_key: str
    description: str
    where: str
    factory: Callable[[], Any] = field(repr=False)
    weights_file: Path | None = None  # the file holding the weights (its SHA-256 keys INT8 models)


@contextmanager
def blame(task_id: str, where: str) -> Iterator[None]:
    """Prefix setup failures raised inside with ``task '<id>': <where>: `` (one line; type kept).

    A :class:`ParamError` becomes a :class:`ModelSetupError` (still a ParamError). Messages that
    already name a task pass unchanged.
    """
    try:
        yield
    except (SetupError, ParamError) as exc:
        if str(exc).startswith("task '"):
            raise
        kind = type(exc) if isinstance(exc, SetupError) else ModelSetupError
        raise kind(f"task '{task_id}': {where}: {exc}") from exc


def file_identity(path: Path) -> str:
    """Path + size + modification time: changes whenever the file is rewritten."""
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def resolve_source(
    config: ClassifierConfig,
    model_path: str | os.PathLike | None = None,
    *,
    task_id: str = "infer_torchvision_resnext",
) -> ModelSource:
    """The model ``config`` asks for; ``model_path`` (the ``model`` port) overrides ``model_weight_file``.

    Pretrained weights are fetched into the hub cache here (one attempt), so an offline machine
    fails before any image is decoded.

    Raises:
        SetupError: unusable checkpoint or class file (:class:`CheckpointError`), pretrained weights
            neither cached nor downloadable (:class:`WeightsUnavailableError`), model_name naming another
            architecture than the checkpoint's, weights that do not exist (:class:`ModelSetupError`).
    """
    arch = resolve_arch(config.model_name)
    class_names = None
    if config.class_file:
        with blame(task_id, "parameter 'class_file'"):
            class_names = read_class_file(config.class_file)
    path = model_path or config.model_weight_file
    check_dataset(config, model_path, task_id)
    if path:
        where = "input 'model'" if model_path else "parameter 'model_weight_file'"
        with blame(task_id, where):
            return _checkpoint_source(Path(path), config, arch, class_names, task_id, where)
    with blame(task_id, "parameter 'pretrained_weights'"):
        weights = pick_weights(arch, config.pretrained_weights)
        ensure_weights_available(weights)
    names = list(weights.meta["categories"])
    if class_names is not None:
        if len(class_names) != len(names):
            raise CheckpointError(
                f"task '{task_id}': parameter 'class_file': '{config.class_file}' has "
                f"{len(class_names)} names but the pretrained {arch} head has {len(names)} outputs"
            )
        names = class_names
    prep = Preprocessing.from_weights(weights, config.input_size)
    ident = file_identity(weights_cache_path(weights))
    return ModelSource(
        arch,
        names,
        prep,
        f"torchvision:{weights}:{ident}",
        f"{arch} ({weights})",
        "parameter 'pretrained_weights'",
        lambda: create_model(arch, weights=weights),
        weights_cache_path(weights),
    )


def _checkpoint_source(
    path: Path, config: ClassifierConfig, arch: str, class_names, task_id: str, where: str
) -> ModelSource:
    ckpt = load_checkpoint(path, arch=arch, class_names=class_names)
    manifest = ckpt.manifest
    resolve_checkpoint_arch(
        manifest.arch, config.model_name, config.model_name_explicit, task_id=task_id, path=path
    )
    input_size = config.input_size
    prep = manifest.preprocessing.with_crop_size(input_size) if input_size else manifest.preprocessing
    holder = [ckpt]  # the loaded file is used once, then reloaded only if a backend needs the model again

    def factory():
        loaded = holder.pop() if holder else load_checkpoint(path, arch=arch, class_names=class_names)
        return build_model(loaded)

    return ModelSource(
        manifest.arch,
        list(manifest.class_names),
        prep,
        f"checkpoint:{manifest.arch}:{file_identity(path)}",
        f"{manifest.arch} from '{path}'",
        where,
        factory,
        path,
    )


def check_dataset(config: ClassifierConfig, model_path, task_id: str) -> None:
    """Ikomia's ``dataset``: Custom needs weights of its own, ImageNet takes none.

    Raises:
        CheckpointError: Custom without a weight file or model input, ImageNet with a model input.
    """
    if config.dataset == "Custom" and not (model_path or config.model_weight_file):
        raise CheckpointError(
            f"task '{task_id}': parameter 'dataset': 'Custom' needs model_weight_file (and class_file "
            "for a plain state dict) or a model input; dataset 'ImageNet' uses the pretrained weights"
        )
    if config.dataset == "ImageNet" and model_path:
        raise CheckpointError(
            f"task '{task_id}': parameter 'dataset': 'ImageNet' uses the pretrained weights, but the "
            f"model input holds '{model_path}': set dataset to Custom, or leave it out"
        )


def source_identity(config: ClassifierConfig, model_path=None) -> str:
    """Cheap fingerprint of the weights and class files in use, to notice files rewritten between runs."""
    parts = []
    for path in (model_path or config.model_weight_file, config.class_file):
        if path:
            try:
                st = os.stat(
                    path
                )  # one stat per batch: no resolve(), which costs several on slow filesystems
                parts.append(f"{os.fspath(path)}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:  # a missing file is part of the fingerprint; loading it reports the error
                parts.append(f"{os.fspath(path)}:missing")
    return "|".join(parts) or "pretrained"


__all__ = ["ModelSource", "blame", "file_identity", "resolve_source", "source_identity"]

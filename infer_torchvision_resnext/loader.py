"""From task parameters to a ready model: where the weights come from, class names, preprocessing, backend."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from infer_torchvision_resnext.backends import Runtime, create_backend, resolve_runtime
from infer_torchvision_resnext.checkpoint import (CheckpointError, Preprocessing, build_model, load_checkpoint,
                                                  read_class_file)
from infer_torchvision_resnext.models import create_model, resolve_arch, resolve_weights, weights_cache_path

log = logging.getLogger("workflow.task.infer_torchvision_resnext")


@dataclass
class ModelSource:
    """What to load: architecture, class names, preprocessing and how to build the torch model.

    ``factory`` builds the torch model only when a backend needs it (an OpenVINO
    cache hit does not). ``cache_key`` identifies the weights for the OpenVINO cache.
    """

    arch: str
    class_names: list[str]
    prep: Preprocessing
    cache_key: str
    description: str
    factory: Callable[[], Any] = field(repr=False)


def file_identity(path: Path) -> str:
    """Path + size + modification time: changes whenever the file is rewritten."""
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def resolve_source(params, model_path: str | os.PathLike | None = None) -> ModelSource:
    """The model a task's parameters ask for; ``model_path`` (the ``model`` port) overrides ``model_weight_file``.

    Raises:
        ParamError: unknown model name / weights.  CheckpointError: unusable checkpoint or class file.
        WeightsUnavailableError: pretrained weights neither cached nor downloadable.
    """
    arch = resolve_arch(params.model_name)
    class_names = read_class_file(params.class_file) if params.class_file else None
    path = model_path or params.model_weight_file
    if path:
        return _checkpoint_source(Path(path), arch, class_names, params.input_size)
    weights = resolve_weights(arch, params.pretrained_weights)
    names = list(weights.meta["categories"])
    if class_names is not None:
        if len(class_names) != len(names):
            raise CheckpointError(f"class file '{params.class_file}' has {len(class_names)} names but the pretrained "
                                  f"{arch} head has {len(names)} outputs")
        names = class_names
    prep = Preprocessing.from_weights(weights, params.input_size)
    cache = weights_cache_path(weights)
    ident = file_identity(cache) if cache.is_file() else "not-cached"
    return ModelSource(arch, names, prep, f"torchvision:{weights}:{ident}", f"{arch} ({weights})",
                       lambda: create_model(arch, weights=weights))


def _checkpoint_source(path: Path, arch: str, class_names, input_size: int | None) -> ModelSource:
    ckpt = load_checkpoint(path, arch=arch, class_names=class_names)
    manifest = ckpt.manifest
    prep = manifest.preprocessing.with_crop_size(input_size) if input_size else manifest.preprocessing
    holder = [ckpt]  # the loaded file is used once, then reloaded only if a backend needs the model again

    def factory():
        loaded = holder.pop() if holder else load_checkpoint(path, arch=arch, class_names=class_names)
        return build_model(loaded)

    ident = file_identity(path)
    return ModelSource(manifest.arch, list(manifest.class_names), prep, f"checkpoint:{manifest.arch}:{ident}",
                       f"{manifest.arch} from '{path}'", factory)


@dataclass
class LoadedModel:
    """A source with its backend, and the identity of the file it was loaded from."""

    source: ModelSource
    runtime: Runtime
    backend: Any
    identity: str


def load_model(params, model_path=None) -> LoadedModel:
    """Resolve the source and build the backend; logs one line with what was loaded and how long it took."""
    start = time.perf_counter()
    source = resolve_source(params, model_path)
    runtime = resolve_runtime(params.device, params.precision, params.backend)
    backend = _make_backend(source, runtime, params.batch_size)
    log.info("loaded %s, %d classes, %dpx, on %s/%s/%s in %.1fs", source.description, len(source.class_names),
             source.prep.crop_size, runtime.backend, runtime.device, runtime.precision, time.perf_counter() - start)
    return LoadedModel(source, runtime, backend, source_identity(params, model_path))


def _make_backend(source: ModelSource, runtime: Runtime, batch_size: int):
    return create_backend(source.factory, source.prep, runtime, cache_key=source.cache_key, batch_size=batch_size,
                          num_classes=len(source.class_names))


def source_identity(params, model_path=None) -> str:
    """Cheap fingerprint of the weights and class files in use, to notice files rewritten between runs."""
    parts = []
    for path in (model_path or params.model_weight_file, params.class_file):
        if path:
            try:
                st = os.stat(path)  # one stat per batch: no resolve(), which costs several on slow filesystems
                parts.append(f"{os.fspath(path)}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                parts.append(f"{os.fspath(path)}:missing")
    return "|".join(parts) or "pretrained"

"""The state-dict keys and shapes of an architecture, kept on disk so checking a checkpoint needs no
torchvision.

Building even a meta-device model imports torchvision, which imports ``torch._dynamo``
(~1.7 s of a process's start on 2 AVX2 cores). The shapes depend only on the architecture,
the head size and the torchvision version, so the first process computes them and later
ones (CLI runs, Ray actors, serving workers) read a small JSON file. A damaged or foreign
file is recomputed, never trusted beyond its expected form.
"""

from __future__ import annotations

import functools
import json
import logging
from importlib.metadata import PackageNotFoundError, version

from infer_torchvision_resnext.disk_cache import cache_root

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 1 << 20


def _torchvision_version() -> str:
    try:
        return version("torchvision")
    except PackageNotFoundError:  # pragma: no cover - torchvision is a dependency
        return "unknown"


def _build(arch: str, num_classes: int) -> dict[str, tuple[int, ...]]:
    import torch

    from infer_torchvision_resnext.models import create_model

    with torch.device("meta"):
        model = create_model(arch, num_classes=num_classes)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _read(path) -> dict[str, tuple[int, ...]] | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not data:
        return None
    shapes = {}
    for key, shape in data.items():
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            return None
        shapes[key] = tuple(shape)
    return shapes


@functools.lru_cache(maxsize=16)
def expected_shapes(arch: str, num_classes: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the state dict of ``arch`` with ``num_classes`` outputs (memory, then disk, then
    built).

    The dict is shared between callers: read it, do not change it.
    """
    from workflow.core.files import atomic_write_text

    path = cache_root() / "shapes" / f"{arch}-{int(num_classes)}-tv{_torchvision_version()}.json"
    shapes = _read(path)
    if shapes is None:
        shapes = _build(arch, num_classes)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps({k: list(v) for k, v in shapes.items()}))
        except OSError as exc:  # a read-only cache only costs time
            log.info("architecture shapes not cached at %s: %s", path, exc)
    return shapes

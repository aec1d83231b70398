"""Model building through torchvision's weights API (no hand-written URLs).

Public verbs: :func:`resolve_arch`, :func:`resolve_weights`, :func:`pick_weights`,
:func:`ensure_weights_available`, :func:`create_model`. Pretrained state dicts
are loaded with ``weights_only=True`` so a tampered cache file cannot run code.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from workflow.core.errors import ParamError, SetupError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import torch

MODEL_NAMES = {
    "resnext50": "resnext50_32x4d",
    "resnext101": "resnext101_32x8d",
    "resnext101_64x4d": "resnext101_64x4d",
}
ARCHS = tuple(MODEL_NAMES.values())
OFFLINE_ENV = "WORKFLOW_OFFLINE"  # set to 1 to never try a download
IKOMIA_WEIGHTS = "IMAGENET1K_V1"  # what Ikomia's hub plugins load (torchvision's pretrained=True)
log = logging.getLogger(__name__)


class WeightsUnavailableError(SetupError):
    """Pretrained weights are neither in the torch hub cache nor downloadable."""


class ModelSetupError(SetupError, ParamError):
    """A parameter that cannot build a model on this machine (e.g. ``device: cuda`` without a GPU).

    Found when the model is built rather than when parameters are set, and the same for every
    item, so it stops a run at once; still a :class:`ParamError` for callers that catch those.
    """


def resolve_arch(model_name: str) -> str:
    """The torchvision builder name for ``model_name`` (short or full name).

    Raises:
        ParamError: unknown name (with a suggestion and the valid names).
    """
    name = str(model_name).strip()
    if name in MODEL_NAMES:
        return MODEL_NAMES[name]
    if name in ARCHS:
        return name
    known = list(MODEL_NAMES) + list(ARCHS)
    raise ParamError(
        f"unknown model_name '{model_name}'{did_you_mean(name, known)}; valid: {', '.join(MODEL_NAMES)}"
    )


def weight_choices(arch: str) -> list[str]:
    """Names of the pretrained weights torchvision offers for ``arch`` (plus ``DEFAULT``)."""
    from torchvision.models import get_model_weights

    return ["DEFAULT"] + [w.name for w in get_model_weights(arch)]


def resolve_weights(arch: str, which: str = "DEFAULT"):
    """The torchvision ``WeightsEnum`` member ``which`` of ``arch``.

    Raises:
        ParamError: ``which`` does not exist for this architecture (names the choices).
    """
    from torchvision.models import get_model_weights

    enum = get_model_weights(resolve_arch(arch))
    key = str(which).strip()
    try:
        return enum[key.upper()] if key.upper() == "DEFAULT" else enum[key]
    except KeyError:
        raise ParamError(
            f"pretrained_weights '{which}' does not exist for {arch}; "
            f"choices: {', '.join(weight_choices(arch))}"
        ) from None


def pick_weights(arch: str, which: str = "DEFAULT"):
    """The weights to load for ``which``: named weights as they are; ``DEFAULT`` is torchvision's default when
    its file is cached, else Ikomia's IMAGENET1K_V1 when that file is cached (one INFO line says so), else
    torchvision's default (to be downloaded by :func:`ensure_weights_available`).

    Raises:
        ParamError: ``which`` does not exist for this architecture.
    """
    weights = resolve_weights(arch, which)
    if str(which).strip().upper() != "DEFAULT" or weights_cache_path(weights).is_file():
        return weights
    ikomia = resolve_weights(arch, IKOMIA_WEIGHTS)
    if ikomia != weights and weights_cache_path(ikomia).is_file():
        log.info(
            "%s: pretrained weights DEFAULT (%s) are not cached; using the cached %s file '%s' (Ikomia's weights)",
            resolve_arch(arch),
            weights.name,
            ikomia.name,
            weights_cache_path(ikomia),
        )
        return ikomia
    return weights


def weights_file_name(weights) -> str:
    """File name torch hub caches ``weights`` under (the last part of its URL)."""
    return os.path.basename(urlparse(weights.url).path)


def weights_cache_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints`` (honours TORCH_HOME)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_cache_path(weights) -> Path:
    """Where the state dict of ``weights`` lives once downloaded."""
    return weights_cache_dir() / weights_file_name(weights)


def _unavailable(weights, reason: str) -> WeightsUnavailableError:
    enum = type(weights)
    v1 = (
        enum[IKOMIA_WEIGHTS]
        if IKOMIA_WEIGHTS in enum.__members__ and weights != enum[IKOMIA_WEIGHTS]
        else None
    )
    alt = (
        f" (or {v1}'s '{weights_file_name(v1)}', Ikomia's weights, for pretrained_weights DEFAULT)"
        if v1
        else ""
    )
    return WeightsUnavailableError(
        f"pretrained weights {weights} are not available offline: file '{weights_file_name(weights)}' is not in the "
        f"torch hub cache '{weights_cache_dir()}' and could not be downloaded ({reason}); put the file there"
        f"{alt} (TORCH_HOME moves the cache) or set model_weight_file to a checkpoint or state dict"
    )


def ensure_weights_available(weights) -> None:
    """Make sure the state dict of ``weights`` is in the torch hub cache, downloading it if possible.

    Raises:
        WeightsUnavailableError: not cached and the download failed (or ``WORKFLOW_OFFLINE=1``).
    """
    if weights_cache_path(weights).is_file():
        return
    if os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        raise _unavailable(weights, f"{OFFLINE_ENV} is set")
    try:
        weights.get_state_dict(progress=False, weights_only=True)
    except Exception as exc:  # any network / filesystem failure: one clear line instead
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise _unavailable(weights, reason[:200]) from exc


def load_pretrained_state_dict(weights) -> dict[str, Any]:
    """The state dict of ``weights`` from the hub cache (downloaded if needed), loaded with
    weights_only=True."""
    ensure_weights_available(weights)
    try:
        return weights.get_state_dict(progress=False, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise WeightsUnavailableError(
            f"cached weights file '{weights_cache_path(weights)}' cannot be loaded "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); delete it to download again"
        ) from exc


def create_model(arch: str, num_classes: int | None = None, weights=None) -> torch.nn.Module:
    """Build ``arch`` with torchvision's builder.

    Args:
        arch: builder name or short model name (``resnext50``...).
        num_classes: size of the classification head; with pretrained ``weights`` of another
            size, the weights are loaded first and ``fc`` is replaced by a fresh ``nn.Linear``.
        weights: a torchvision ``WeightsEnum`` member (or its name), or None for random init.

    Raises:
        WeightsUnavailableError: pretrained weights are not cached and cannot be downloaded.
    """
    import torch
    from torchvision.models import get_model

    arch = resolve_arch(arch)
    if weights is None:
        return get_model(arch, weights=None, num_classes=num_classes or 1000)
    if isinstance(weights, str):
        weights = resolve_weights(arch, weights)
    n_pretrained = len(weights.meta["categories"])
    state_dict = load_pretrained_state_dict(weights)
    with torch.device("meta"):  # every tensor comes from the file: skip the (slow) random init
        model = get_model(arch, weights=None, num_classes=n_pretrained)
    model.load_state_dict(state_dict, strict=True, assign=True)
    model.float()
    if num_classes is not None and num_classes != n_pretrained:
        model.fc = torch.nn.Linear(model.fc.in_features, num_classes)
    return model


def imagenet_categories(arch: str = "resnext50_32x4d") -> list[str]:
    """The 1000 ImageNet class names that torchvision's weights carry in ``meta["categories"]``."""
    return list(resolve_weights(arch).meta["categories"])


__all__ = [
    "MODEL_NAMES",
    "ARCHS",
    "WeightsUnavailableError",
    "ModelSetupError",
    "resolve_arch",
    "resolve_weights",
    "pick_weights",
    "IKOMIA_WEIGHTS",
    "weight_choices",
    "weights_file_name",
    "weights_cache_dir",
    "weights_cache_path",
    "ensure_weights_available",
    "load_pretrained_state_dict",
    "create_model",
    "imagenet_categories",
]

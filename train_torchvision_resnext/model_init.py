"""The network a run starts from (pretrained, a weight file, or random) and its preprocessing recipe.

Two steps, so the data loaders can start (with the preprocessing) before the network exists:
:func:`resolve_start` decides what to start from and the recipe; :func:`build_start_model` builds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from infer_torchvision_resnext.checkpoint.format import (
    Checkpoint,
    build_model,
    load_checkpoint,
    resolve_checkpoint_arch,
)
from infer_torchvision_resnext.models import (
    WeightsUnavailableError,
    create_model,
    ensure_weights_available,
    pick_weights,
    resolve_arch,
)
from infer_torchvision_resnext.recipe import Preprocessing
from train_torchvision_resnext.distributed import DistContext
from train_torchvision_resnext.params import TrainParams

log = logging.getLogger(__name__)


@dataclass
class Start:
    """What the network starts from: a checkpoint being resumed, a weight file, torchvision weights, or
    nothing (random)."""

    arch: str
    preprocessing: Preprocessing
    checkpoint: Checkpoint | None = None
    weights: object | None = None  # a torchvision WeightsEnum member
    resumed: bool = False

    def describe(self) -> str:
        if self.checkpoint is not None:
            return f"{'the run in' if self.resumed else 'weights of'} '{self.checkpoint.path}'"
        return f"torchvision {self.weights}" if self.weights is not None else "random initialisation"


def resolve_start(
    params: TrainParams,
    ctx: DistContext,
    task_id: str = "train_torchvision_resnext",
    resume: Checkpoint | None = None,
) -> Start:
    """Decide the architecture, the starting weights and their preprocessing (at ``params.input_size``).

    Priority: the ``resume`` checkpoint (its own recipe), then ``model_weight_file`` (a checkpoint of
    this task or a torchvision state dict), then torchvision's pretrained weights (``use_pretrained``:
    their mean/std and resize ratio), else random initialisation with ImageNet normalisation.
    A checkpoint's manifest decides the architecture; ``model_name`` left at its default follows it
    (:func:`~infer_torchvision_resnext.checkpoint.format.resolve_checkpoint_arch`, the rule inference follows
    too).

    Pretrained weights are fetched into the torch hub cache here (rank 0 alone), so an offline
    machine fails at once.

    Raises:
        SetupError: an explicit ``model_name`` that differs from a checkpoint's architecture.
        CheckpointError: an unusable ``model_weight_file``.  ParamError: unknown weights.
        WeightsUnavailableError: pretrained weights neither cached nor downloadable (one line: file, cache
            folder, and ``use_pretrained: false`` as the way out).
    """
    explicit = "model_name" in params.model_fields_set
    if resume is not None:
        arch = resolve_checkpoint_arch(
            resume.manifest.arch, params.model_name, explicit, task_id=task_id, path=resume.path
        )
        return Start(arch, resume.manifest.preprocessing, checkpoint=resume, resumed=True)
    if params.model_weight_file:
        path = Path(params.model_weight_file).expanduser()
        checkpoint = load_checkpoint(
            path, arch=resolve_arch(params.model_name)
        )  # arch: for a plain state dict
        arch = resolve_checkpoint_arch(
            checkpoint.manifest.arch, params.model_name, explicit, task_id=task_id, path=path
        )
        return Start(
            arch, checkpoint.manifest.preprocessing.with_crop_size(params.input_size), checkpoint=checkpoint
        )
    arch = resolve_arch(params.model_name)
    if params.use_pretrained:
        # rank 0 picks (DEFAULT, else a cached IMAGENET1K_V1) and downloads alone; the same error everywhere
        weights = ctx.main_first(lambda: _fetch(pick_weights(arch, params.pretrained_weights), task_id))
        return Start(arch, Preprocessing.from_weights(weights, params.input_size), weights=weights)
    if params.feature_extract:
        log.warning(
            "%s: feature_extract with use_pretrained=false trains only the head on top of a random, frozen "
            "backbone; set feature_extract to false to train the whole network",
            task_id,
        )
    return Start(arch, Preprocessing.default(params.input_size))


def _fetch(weights, task_id: str):
    """``weights``, once their file is in the torch hub cache."""
    try:
        ensure_weights_available(weights)
        return weights
    except WeightsUnavailableError as exc:
        raise WeightsUnavailableError(
            f"task '{task_id}': parameter 'use_pretrained': {exc}, or set use_pretrained: false to "
            f"start from random weights"
        ) from None


def build_start_model(start: Start, num_classes: int) -> torch.nn.Module:
    """The starting network with a ``num_classes`` head (replaced when the weights have another size).

    Call after seeding: a new head's initialisation uses the global torch RNG.
    """
    if start.checkpoint is not None:
        model = build_model(start.checkpoint)
        if model.fc.out_features != num_classes:
            model.fc = torch.nn.Linear(model.fc.in_features, num_classes)
        return model
    if start.weights is not None:
        return create_model(start.arch, num_classes, start.weights)
    return create_model(start.arch, num_classes)

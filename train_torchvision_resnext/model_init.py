"""The network a run starts from (pretrained, a weight file, or random) and its preprocessing recipe.

Two steps, so the data loaders can start (with the preprocessing) before the network exists:
:func:`resolve_start` decides what to start from and the recipe; :func:`build_start_model` builds it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from infer_torchvision_resnext.checkpoint import Checkpoint, Preprocessing, build_model, load_checkpoint
from infer_torchvision_resnext.models import create_model, ensure_weights_available, resolve_weights
from train_torchvision_resnext.distributed import DistContext
from train_torchvision_resnext.params import TrainParams
from workflow.errors import ParamError

log = logging.getLogger("workflow.task.train_torchvision_resnext")


@dataclass
class Start:
    """What the network starts from: a loaded weight file, torchvision weights, or nothing (random)."""

    arch: str
    preprocessing: Preprocessing
    checkpoint: Checkpoint | None = None
    weights: object | None = None  # a torchvision WeightsEnum member

    def describe(self) -> str:
        if self.checkpoint is not None:
            return f"weights of '{self.checkpoint.path}'"
        return f"torchvision {self.weights}" if self.weights is not None else "random initialisation"


def resolve_start(arch: str, params: TrainParams, ctx: DistContext, task_id: str = "train_torchvision_resnext") -> Start:
    """Decide the starting weights and their preprocessing (at ``params.input_size``).

    Priority: ``model_weight_file`` (a checkpoint of this task or a torchvision state dict), then
    torchvision's pretrained weights (``pretrained``: their mean/std and resize ratio), else random
    initialisation with ImageNet normalisation.

    Pretrained weights are fetched into the torch hub cache here (rank 0 alone), so an offline
    machine fails at once.

    Raises:
        CheckpointError / ParamError: an unusable or mismatching ``model_weight_file``, unknown weights.
        WeightsUnavailableError: pretrained weights neither cached nor downloadable (one line: file and cache folder).
    """
    if params.model_weight_file:
        path = Path(params.model_weight_file).expanduser()
        checkpoint = load_checkpoint(path, arch=arch)
        if checkpoint.manifest.arch != arch:
            raise ParamError(f"task '{task_id}': model_weight_file '{path}' holds a {checkpoint.manifest.arch} but "
                             f"model_name asks for {arch}")
        return Start(arch, checkpoint.manifest.preprocessing.with_crop_size(params.input_size), checkpoint=checkpoint)
    if params.pretrained:
        weights = resolve_weights(arch, params.pretrained_weights)
        ctx.main_first(lambda: ensure_weights_available(weights))  # rank 0 downloads alone; the same error everywhere
        return Start(arch, Preprocessing.from_weights(weights, params.input_size), weights=weights)
    if params.feature_extract:
        log.warning("%s: feature_extract with pretrained=false trains only the head on top of a random, frozen "
                    "backbone; set feature_extract to false to train the whole network", task_id)
    return Start(arch, Preprocessing.default(params.input_size))


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

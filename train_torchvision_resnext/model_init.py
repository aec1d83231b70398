"""The network a run starts from (pretrained, a weight file, or random) and its preprocessing recipe."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from infer_torchvision_resnext.checkpoint import Preprocessing, build_model, load_checkpoint
from infer_torchvision_resnext.models import create_model, ensure_weights_available, resolve_weights
from train_torchvision_resnext.distributed import DistContext
from train_torchvision_resnext.params import TrainParams
from workflow.errors import ParamError

log = logging.getLogger("workflow.task.train_torchvision_resnext")


def initial_model(arch: str, num_classes: int, params: TrainParams, ctx: DistContext,
                  task_id: str = "train_torchvision_resnext") -> tuple[torch.nn.Module, Preprocessing]:
    """Build ``arch`` with a ``num_classes`` head and the preprocessing that goes with its weights.

    Priority: ``model_weight_file`` (our checkpoint or a torchvision state dict), then torchvision's
    pretrained weights (``pretrained``), else random initialisation with ImageNet normalisation.
    Call after seeding: the new head's initialisation uses the global torch RNG.

    Raises:
        WeightsUnavailableError: pretrained weights neither cached nor downloadable (one line: file and cache folder).
        CheckpointError / ParamError: an unusable or mismatching ``model_weight_file``.
    """
    if params.model_weight_file:
        return _from_file(Path(params.model_weight_file).expanduser(), arch, num_classes, params.input_size, task_id)
    if params.pretrained:
        weights = resolve_weights(arch, params.pretrained_weights)
        ctx.main_first(lambda: ensure_weights_available(weights))  # rank 0 downloads alone; the same error on every rank
        return create_model(arch, num_classes, weights), Preprocessing.from_weights(weights, params.input_size)
    if params.feature_extract:
        log.warning("%s: feature_extract with pretrained=false trains only the head on top of a random, frozen "
                    "backbone; set feature_extract to false to train the whole network", task_id)
    return create_model(arch, num_classes), Preprocessing.default(params.input_size)


def _from_file(path: Path, arch: str, num_classes: int, input_size: int, task_id: str) -> tuple[torch.nn.Module, Preprocessing]:
    checkpoint = load_checkpoint(path, arch=arch)
    if checkpoint.manifest.arch != arch:
        raise ParamError(f"task '{task_id}': model_weight_file '{path}' holds a {checkpoint.manifest.arch} but "
                         f"model_name asks for {arch}")
    model = build_model(checkpoint)
    if model.fc.out_features != num_classes:
        model.fc = torch.nn.Linear(model.fc.in_features, num_classes)
    log.info("%s: starting from '%s' (%s)", task_id, path, checkpoint.manifest.created_by)
    return model, checkpoint.manifest.preprocessing.with_crop_size(input_size)

"""One training epoch and one evaluation pass (autocast, channels_last, progress bars)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from infer_torchvision_resnext.preprocess import normalize_nchw
from train_torchvision_resnext.metrics import EpochMetrics
from train_torchvision_resnext.optim import set_train_mode
from workflow.core.errors import TaskRunError
from workflow.core.progress import progress_bar


@dataclass
class StepSetup:
    """How each step runs: device, autocast dtype (None: fp32), gradient scaler, loss, normalisation, frozen
    backbone."""

    device: torch.device
    dtype: torch.dtype | None
    scaler: torch.amp.GradScaler
    criterion: torch.nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    feature_extract: bool = False
    show_progress: bool = True

    def to_device(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 NHWC images from the loader -> normalised float32 NCHW on the device (channels_last memory,
        the inference task's normaliser), labels on the device."""
        return (
            normalize_nchw(images.to(self.device, non_blocking=True), self.mean, self.std),
            labels.to(self.device, non_blocking=True),
        )

    def autocast(self):
        return torch.autocast(
            self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None
        )


def _bar(loader: DataLoader, setup: StepSetup, desc: str):
    return progress_bar(loader, total=len(loader), desc=desc, unit="batch") if setup.show_progress else loader


def train_epoch(
    model: torch.nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler,
    setup: StepSetup,
    metrics: EpochMetrics,
    desc: str = "train",
) -> tuple[int, float, float]:
    """Train for one pass over ``loader``, stepping the scheduler every batch.

    Returns:
        (images seen by this process, seconds spent, learning rate of the last step).

    Raises:
        TaskRunError: the loss is not finite (names the epoch; suggests a lower rate or fp32).
    """
    module = getattr(model, "module", model)
    set_train_mode(module, setup.feature_extract)
    metrics.reset()
    images, start, lr = 0, time.perf_counter(), 0.0
    bar = _bar(loader, setup, desc)
    for step, (x, y) in enumerate(bar):
        x, y = setup.to_device(x, y)
        with setup.autocast():
            logits = model(x)
        loss = setup.criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        setup.scaler.scale(loss).backward()
        setup.scaler.step(optimizer)
        setup.scaler.update()
        lr = float(optimizer.param_groups[0]["lr"])
        scheduler.step()
        metrics.update(logits, y, loss)
        images += y.numel()
        if setup.show_progress and step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    seconds = time.perf_counter() - start
    if not torch.isfinite(metrics.loss.compute()):
        raise TaskRunError(
            f"{desc}: the training loss is not finite; lower learning_rate or set precision to fp32"
        )
    return images, seconds, lr


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, loader: DataLoader, setup: StepSetup, metrics: EpochMetrics, desc: str = "val"
) -> None:
    """Accumulate loss and metrics over ``loader`` (the bare module: no DDP collectives per batch)."""
    module = getattr(model, "module", model)
    module.eval()
    metrics.reset()
    for x, y in _bar(loader, setup, desc):
        x, y = setup.to_device(x, y)
        with setup.autocast():
            logits = module(x)
        metrics.update(logits, y, torch.nn.functional.cross_entropy(logits.float(), y))  # no label smoothing

"""What trains and how: frozen backbone, optimizer, per-step learning-rate schedule, early stopping."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import lr_scheduler

WARMUP_START_FACTOR = 0.01  # warmup starts at 1% of the learning rate


def freeze_backbone(model: torch.nn.Module) -> None:
    """Only the head (``fc``) keeps ``requires_grad``; the rest of the network is fixed."""
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("fc.")


def set_train_mode(model: torch.nn.Module, feature_extract: bool) -> None:
    """Training mode; with a frozen backbone its batch norms stay in eval mode (running statistics
    untouched)."""
    if feature_extract:
        model.eval()
        model.fc.train()
    else:
        model.train()


def build_optimizer(
    model: torch.nn.Module, name: str, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    """SGD (with momentum) or AdamW (momentum is beta1) over the parameters that train."""
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def warmup_steps(warmup_epochs: float, steps_per_epoch: int, total_steps: int) -> int:
    """Warmup length in steps, leaving at least one step of decay."""
    return max(0, min(round(warmup_epochs * steps_per_epoch), total_steps - 1))


def build_scheduler(
    optimizer: torch.optim.Optimizer, name: str, total_steps: int, warmup: int
) -> lr_scheduler.LRScheduler:
    """A scheduler stepped once per optimizer step.

    ``cosine``: LinearLR warmup over ``warmup`` steps, then CosineAnnealingLR to 0 (SequentialLR);
    ``step``: x0.1 at 1/3 and 2/3 of the steps; ``none``: constant.
    """
    if name == "cosine":
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup))
        if warmup <= 0:
            return cosine
        linear = lr_scheduler.LinearLR(
            optimizer, start_factor=WARMUP_START_FACTOR, end_factor=1.0, total_iters=warmup
        )
        return lr_scheduler.SequentialLR(optimizer, [linear, cosine], milestones=[warmup])
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, total_steps // 3), gamma=0.1)
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def fast_forward(scheduler: lr_scheduler.LRScheduler, steps: int) -> None:
    """Advance a fresh scheduler by ``steps`` steps (resuming with another number of epochs)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "step() before optimizer.step()": intended here
        for _ in range(steps):
            scheduler.step()


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


class EarlyStopping:
    """Counts epochs without a better score; ``patience`` 0 never stops."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, score: float, epoch: int) -> bool:
        """Record ``score`` of ``epoch``; True when it is the best so far (strictly better)."""
        if self.best is None or score > self.best:
            self.best, self.best_epoch, self.bad_epochs = score, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = (
            state["best"],
            int(state["best_epoch"]),
            int(state["bad_epochs"]),
        )

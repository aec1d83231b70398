"""Learning-rate schedules, frozen backbone, early stopping, device and precision choices."""

from __future__ import annotations

import pytest
import torch
import torchvision

from train_torchvision_resnext import optim, precision
from workflow.core.errors import ParamError


def _lrs(name: str, total: int, warmup: int, lr: float = 0.1) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = optim.build_scheduler(opt, name, total, warmup)
    out = []
    for _ in range(total):
        out.append(optim.current_lr(opt))
        opt.step()
        sched.step()
    return out


def test_cosine_with_linear_warmup():
    lrs = _lrs("cosine", total=100, warmup=10)
    assert lrs[0] == pytest.approx(0.1 * optim.WARMUP_START_FACTOR)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))  # rises during warmup
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == 10
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then only decays
    assert lrs[-1] < 0.001
    assert _lrs("cosine", total=20, warmup=0)[0] == pytest.approx(0.1)


def test_step_and_constant_schedules():
    step = _lrs("step", total=30, warmup=0)
    assert (
        step[0] == step[9] == pytest.approx(0.1)
        and step[10] == pytest.approx(0.01)
        and step[29] == pytest.approx(0.001)
    )
    assert set(_lrs("none", total=5, warmup=3)) == {0.1}


def test_warmup_steps_leave_room_for_decay():
    assert optim.warmup_steps(1.0, 50, 500) == 50
    assert optim.warmup_steps(2.0, 50, 60) == 59
    assert optim.warmup_steps(0, 50, 500) == 0


def test_fast_forward_matches_a_stepped_scheduler():
    def make():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return opt, optim.build_scheduler(opt, "cosine", 40, 5)

    opt_a, sched_a = make()
    for _ in range(17):
        opt_a.step()
        sched_a.step()
    opt_b, sched_b = make()
    optim.fast_forward(sched_b, 17)
    assert optim.current_lr(opt_b) == pytest.approx(optim.current_lr(opt_a))


def test_feature_extract_freezes_everything_but_the_head():
    model = torchvision.models.resnext50_32x4d(num_classes=3)
    optim.freeze_backbone(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    opt = optim.build_optimizer(model, "sgd", 0.1, 0.9, 1e-4)
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == 2048 * 3 + 3
    optim.set_train_mode(model, feature_extract=True)
    assert not model.bn1.training and not model.layer4[0].bn1.training and model.fc.training
    optim.set_train_mode(model, feature_extract=False)
    assert model.bn1.training


def test_adamw_uses_momentum_as_beta1():
    model = torch.nn.Linear(2, 2)
    opt = optim.build_optimizer(model, "adamw", 0.01, 0.8, 0.05)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["betas"] == (0.8, 0.999)
    assert opt.param_groups[0]["weight_decay"] == 0.05


def test_early_stopping_counts_epochs_without_improvement():
    stop = optim.EarlyStopping(patience=2)
    assert stop.update(0.5, 1) and not stop.should_stop
    assert not stop.update(0.5, 2)  # equal is not better
    assert not stop.should_stop
    assert not stop.update(0.4, 3) and stop.should_stop
    assert stop.best == 0.5 and stop.best_epoch == 1
    again = optim.EarlyStopping(2)
    again.load_state_dict(stop.state_dict())
    assert again.should_stop and again.best_epoch == 1
    never = optim.EarlyStopping(0)
    for e in range(5):
        never.update(0.1, e)
    assert not never.should_stop


def _machine(monkeypatch, flags: str, cuda: bool = False) -> None:
    from workflow.core import runtime

    monkeypatch.setattr(runtime, "cpu_info", lambda: runtime.CpuInfo("test CPU", frozenset(flags.split())))
    monkeypatch.setattr(runtime, "cuda_available", lambda: cuda)


def test_auto_precision_comes_from_the_engine(monkeypatch):
    _machine(monkeypatch, "avx2 avx512f amx_bf16 amx_tile")
    assert precision.resolve_train_runtime("auto", "auto", "t").precision == "bf16"
    _machine(monkeypatch, "avx2 avx512f")  # AVX-512 without bf16
    assert precision.resolve_train_runtime("auto", "auto", "t").precision == "fp32"
    assert precision.resolve_train_runtime("cpu", "fp16", "t").precision == "fp16"
    _machine(monkeypatch, "avx2", cuda=True)
    rt = precision.resolve_train_runtime("auto", "auto", "t")
    assert (rt.device, rt.precision) == ("cuda", "fp16")
    assert precision.resolve_train_runtime("cpu", "auto", "t").precision == "fp32"
    assert precision.autocast_dtype("bf16") is torch.bfloat16 and precision.autocast_dtype("fp32") is None


def test_cuda_without_a_gpu_is_a_param_error(monkeypatch):
    _machine(monkeypatch, "avx2", cuda=False)
    with pytest.raises(
        ParamError, match="task 'trainer': parameter 'device' is 'cuda' but torch sees no CUDA GPU"
    ):
        precision.resolve_train_runtime("cuda", "auto", "trainer")
    assert precision.resolve_train_runtime("auto", "auto", "trainer").device == "cpu"
    assert precision.torch_device("cpu", local_rank=3) == torch.device("cpu")

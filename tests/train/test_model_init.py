"""The start of a run: which architecture a checkpoint's manifest imposes on model_name (the rule inference
follows too)."""

from __future__ import annotations

import pytest
import torch

from infer_torchvision_resnext.checkpoint.format import (
    FORMAT_VERSION,
    Manifest,
    load_checkpoint,
    save_checkpoint,
)
from infer_torchvision_resnext.recipe import Preprocessing
from train_torchvision_resnext.distributed import DistContext
from train_torchvision_resnext.model_init import resolve_start
from train_torchvision_resnext.params import TrainParams
from train_torchvision_resnext.trainer import train
from workflow.core.errors import SetupError

from .helpers import tiny_params


@pytest.fixture
def resnext101_file(tmp_path):
    """A checkpoint whose manifest names resnext101_32x8d (only its head stored: resolve_start does not build
    it)."""
    path = tmp_path / "r101.pt"
    state = {"fc.weight": torch.zeros(3, 2048), "fc.bias": torch.zeros(3)}
    save_checkpoint(
        path, state, Manifest(FORMAT_VERSION, "resnext101_32x8d", ["a", "b", "c"], Preprocessing(48, 55))
    )
    return path


def test_a_default_model_name_follows_the_manifest(resnext101_file):
    params = TrainParams(model_weight_file=str(resnext101_file), input_size=32)
    assert "model_name" not in params.model_fields_set and params.model_name == "resnext50"
    start = resolve_start(params, DistContext(), "t")
    assert start.arch == "resnext101_32x8d" and start.preprocessing == Preprocessing(48, 55).with_crop_size(
        32
    )


@pytest.mark.parametrize("name", ["resnext101", "resnext101_32x8d"])
def test_an_explicit_model_name_naming_the_same_arch_is_fine(resnext101_file, name):
    params = TrainParams(model_weight_file=str(resnext101_file), model_name=name)
    assert resolve_start(params, DistContext(), "t").arch == "resnext101_32x8d"


def test_an_explicit_different_model_name_is_a_setup_error_naming_both(resnext101_file):
    params = TrainParams(model_weight_file=str(resnext101_file), model_name="resnext50")
    with pytest.raises(
        SetupError,
        match=r"task 't': parameter 'model_name' is 'resnext50' \(resnext50_32x4d\) but "
        r"checkpoint '.*r101\.pt' holds a resnext101_32x8d",
    ) as exc:
        resolve_start(params, DistContext(), "t")
    assert "\n" not in str(exc.value)


def test_the_resumed_checkpoint_decides_too(resnext101_file):
    resume = load_checkpoint(resnext101_file)
    start = resolve_start(TrainParams(input_size=48), DistContext(), "t", resume)
    assert (start.arch, start.resumed, start.preprocessing) == (
        "resnext101_32x8d",
        True,
        Preprocessing(48, 55),
    )
    with pytest.raises(
        SetupError, match="parameter 'model_name' is 'resnext101_64x4d'.*holds a resnext101_32x8d"
    ):
        resolve_start(TrainParams(model_name="resnext101_64x4d"), DistContext(), "t", resume)


def test_train_stops_before_writing_anything(tmp_path, tiny_digits, resnext101_file):
    params = tiny_params(
        tmp_path / "run", tiny_digits, model_weight_file=str(resnext101_file), model_name="resnext50"
    )
    with pytest.raises(SetupError, match="holds a resnext101_32x8d"):
        train(params)
    assert not (tmp_path / "run" / "best.pt").exists() and not (tmp_path / "run" / "params.yaml").exists()

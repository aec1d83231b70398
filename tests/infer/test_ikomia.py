"""Ikomia users' calls on the inference task: `dataset` / `cuda` parameters, annotated image size, an Ikomia
script run unchanged."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from infer_torchvision_resnext.checkpoint.format import CheckpointError
from infer_torchvision_resnext.task import InferTorchvisionResnext
from workflow.core.errors import ParamError

ROOT = Path(__file__).resolve().parents[2]
FAST = {"backend": "torch", "precision": "fp32"}


@pytest.mark.parametrize(
    "value, device", [("True", "cuda"), ("false", "cpu"), (True, "cuda"), (False, "cpu"), ("1", "cuda")]
)
def test_ikomia_cuda_flag_sets_the_device(value, device):
    assert InferTorchvisionResnext({"cuda": value}).params.device == device


def test_ikomia_dataset_names_the_weights():
    task = InferTorchvisionResnext({"dataset": "imagenet"})
    assert task.params.dataset == "ImageNet"
    assert (
        InferTorchvisionResnext({"dataset": "CUSTOM", "model_weight_file": "m.pt"}).params.dataset == "Custom"
    )
    with pytest.raises(
        ParamError,
        match=r"task 'infer_torchvision_resnext': dataset 'ImageNet' uses the pretrained weights, "
        r"but model_weight_file is 'm\.pt': set dataset to Custom, or leave it out",
    ):
        InferTorchvisionResnext({"dataset": "ImageNet", "model_weight_file": "m.pt"})
    with pytest.raises(
        ParamError, match=r"parameter 'dataset' got 'COCO', expected one of 'ImageNet', 'Custom' or None"
    ):
        InferTorchvisionResnext({"dataset": "COCO"})


def test_custom_dataset_needs_weights(photos):
    task = InferTorchvisionResnext({"dataset": "Custom", "device": "cpu", **FAST})
    task.set_input("image", photos["chelsea"])
    with pytest.raises(
        CheckpointError,
        match=r"task 'infer_torchvision_resnext': parameter 'dataset': 'Custom' needs "
        r"model_weight_file \(and class_file for a plain state dict\) or a model input",
    ):
        task.run()


def test_custom_dataset_runs_a_checkpoint_and_the_annotated_image_keeps_the_input_size(probe, photos):
    task = InferTorchvisionResnext(
        {"dataset": "Custom", "model_weight_file": str(probe[0]), "cuda": "False", **FAST}
    )
    small = np.ascontiguousarray(photos["chelsea"][::2, ::2][:85, :128])
    task.set_input(0, small)
    task.run()
    assert task.get_image_with_graphics().shape == small.shape == (85, 128, 3)
    assert task.get_results().top.label == "chelsea" and task.get_output(0).get_image() is small
    task.set_parameters({"annotated_min_side": 170})
    task.run()
    assert task.get_image_with_graphics().shape == (170, 256, 3)


def test_an_ikomia_script_runs_unchanged(tmp_path, monkeypatch, photos, capsys):
    """examples/ikomia_style.py, the README's side-by-side example, with ImageNet-shaped weights in the hub
    cache."""
    from infer_torchvision_resnext.backends import choice as backends
    from infer_torchvision_resnext.models import (
        create_model,
        imagenet_categories,
        resolve_weights,
        weights_cache_path,
    )

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("WORKFLOW_OFFLINE", "1")
    monkeypatch.setattr(
        backends, "openvino_available", lambda: False
    )  # keep the test fast: no OpenVINO conversion
    cache = weights_cache_path(resolve_weights("resnext50"))
    cache.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(create_model("resnext50").state_dict(), cache)
    PILImage.fromarray(photos["chelsea"]).save(tmp_path / "cat.jpg")
    monkeypatch.chdir(tmp_path)
    script = ROOT / "examples" / "ikomia_style.py"
    namespace = runpy.run_path(str(script), run_name="__main__")
    algo = namespace["algo"]
    assert algo.get_parameters()["input_size"] == "224"
    assert algo.get_image_with_graphics().shape == photos["chelsea"].shape
    best = algo.get_whole_image_results()[:3]
    assert len(algo.get_whole_image_results()) == 1000 and best[0][0] in imagenet_categories()
    assert algo.get_results().top.label == best[0][0]  # our typed result agrees
    out = capsys.readouterr().out
    assert out.count("saved ") == 2
    assert out.strip().splitlines()[-3:] == [f"{name}: {float(conf):.3f}" for name, conf in best]

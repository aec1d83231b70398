"""Accuracy of the fast path: the default backend + precision agree with torch fp32 on real photos."""

from __future__ import annotations

import os

import numpy as np
import pytest

from infer_torchvision_resnext.backends.choice import openvino_available
from infer_torchvision_resnext.task import InferTorchvisionResnext

REFERENCE = {"backend": "torch", "precision": "fp32", "device": "cpu"}


def _top1(task, images, batch=32):
    outs = []
    for i in range(0, len(images), batch):
        outs += task.run_batch([{"image": im} for im in images[i : i + batch]])
    return np.array([o["classification"].top.index for o in outs])


def test_default_runtime_agrees_with_torch_fp32(probe, photos):
    """>= 99% top-1 agreement on held-out crops of the scikit-image photos and the photos themselves."""
    path, crops, labels = probe
    images = list(photos.values()) + crops
    default = InferTorchvisionResnext({"model_weight_file": str(path), "device": "cpu", "batch_size": 16})
    reference = InferTorchvisionResnext({"model_weight_file": str(path), **REFERENCE, "batch_size": 16})
    ours, ref = _top1(default, images), _top1(reference, images)
    agreement = float((ours == ref).mean())
    rt = default.load_model().runtime
    print(
        f"\ntop-1 agreement {rt.backend}/{rt.precision} vs torch/fp32 on {len(images)} photos and crops: "
        f"{agreement:.4f}; "
        f"probe accuracy on held-out crops: {float((ref[len(photos) :] == np.array(labels)).mean()):.3f}"
    )
    assert agreement >= 0.99
    assert (
        ref[len(photos) :] == np.array(labels)
    ).mean() > 0.7  # the probe really classifies, so agreement means something


@pytest.mark.skipif(not openvino_available(), reason="openvino is not installed")
def test_torch_bf16_and_openvino_fp32_agree_too(probe, photos):
    path, crops, _ = probe
    images = crops[::2]
    ref = _top1(InferTorchvisionResnext({"model_weight_file": str(path), **REFERENCE}), images)
    for params in ({"backend": "torch", "precision": "bf16"}, {"backend": "openvino", "precision": "fp32"}):
        ours = _top1(
            InferTorchvisionResnext({"model_weight_file": str(path), "device": "cpu", **params}), images
        )
        assert (ours == ref).mean() >= 0.99, params


@pytest.mark.skipif(not openvino_available(), reason="openvino is not installed")
def test_a_second_task_reuses_the_converted_model(probe, photos):
    from infer_torchvision_resnext.backends import openvino_backend

    params = {"model_weight_file": str(probe[0]), "backend": "openvino", "precision": "fp32"}
    first = InferTorchvisionResnext(params)
    first.load_model()
    conversions = openvino_backend.stats["conversions"]
    openvino_backend.clear_memory_cache()  # like a new process: only the disk cache is left
    second = InferTorchvisionResnext(params)
    second.set_input("image", photos["rocket"])
    second.run()
    assert openvino_backend.stats["conversions"] == conversions and second.get_results()[0].label == "rocket"


IMAGENET = os.environ.get("RESNEXT_IMAGENET_WEIGHTS")


@pytest.mark.skipif(
    not IMAGENET or not os.path.isfile(IMAGENET or ""),
    reason="set RESNEXT_IMAGENET_WEIGHTS to a torchvision ResNeXt state dict or checkpoint",
)
def test_real_imagenet_weights_know_cats_and_coffee(photos):
    """With real weights (model from RESNEXT_IMAGENET_MODEL, default resnext50): chelsea is a cat, coffee a
    cup."""
    task = InferTorchvisionResnext(
        {
            "model_name": os.environ.get("RESNEXT_IMAGENET_MODEL", "resnext50"),
            "model_weight_file": IMAGENET,
            "device": "cpu",
            "top_k": 5,
        }
    )
    task.set_input("image", photos["chelsea"])
    task.run()
    assert task.get_results()[0].label in {
        "tabby",
        "tiger cat",
        "Egyptian cat",
        "Persian cat",
        "Siamese cat",
        "lynx",
    }
    task.set_input("image", photos["coffee"])
    task.run()
    assert task.get_results()[0].label in {"cup", "espresso", "coffee mug"}

"""Both plugins decide shared things the same way: image decoding and ``precision: auto``.

A sideways phone photo (EXIF orientation) and a cut-out with transparency must reach the model
upright / on white in training (its dataset) and in inference (the engine's decoding for the
inference task), with the very same pixels; ``precision: auto`` must resolve identically in
training and inference on each CPU class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infer_torchvision_resnext.backends.choice import resolve_runtime as infer_runtime
from infer_torchvision_resnext.params import InferResnextParams
from infer_torchvision_resnext.recipe import Preprocessing
from train_torchvision_resnext.loaders import ImageFolderDataset, eval_transform, train_transform
from train_torchvision_resnext.params import TrainParams
from train_torchvision_resnext.precision import resolve_train_runtime
from workflow import Workflow
from workflow.core import runtime

PREP = Preprocessing(64, 73)
RED, GREEN, BLUE = (230, 20, 20), (20, 200, 40), (30, 40, 220)


def _upright() -> np.ndarray:
    """240x320: a red band on the left, a green band at the bottom, blue elsewhere (any wrong turn shows)."""
    image = np.empty((240, 320, 3), np.uint8)
    image[:] = BLUE
    image[:180, :80] = RED
    image[180:] = GREEN
    return image


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shared_core")
    sideways = Image.fromarray(_upright()).transpose(Image.Transpose.ROTATE_90)  # stored 320 high, 240 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns it 90 degrees clockwise
    sideways.save(folder / "phone.jpg", exif=exif, quality=95)
    cutout = np.zeros((160, 200, 4), np.uint8)  # transparent black...
    cutout[:, :100] = (*RED, 255)  # ...except an opaque red left half
    Image.fromarray(cutout, "RGBA").save(folder / "cutout.png")
    return {"phone": folder / "phone.jpg", "cutout": folder / "cutout.png"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A random 2-class ResNeXt-50 checkpoint with the recipe PREP (the pixels matter here, not the
    scores)."""
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import create_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(
        path, create_model("resnext50", 2), Manifest(FORMAT_VERSION, "resnext50_32x4d", ["a", "b"], PREP)
    )
    return path


def _seen_by_inference(path: Path, checkpoint: Path, shape: tuple[int, ...]) -> np.ndarray:
    """The image the inference task received from the engine for ``path``: its annotated output, brought back
    to ``shape`` (small images are enlarged by a whole factor before labelling); the label covers the top-left
    corner."""
    wf = Workflow()
    task = wf.add_task(name="infer_torchvision_resnext", auto_connect=True)
    task.set_parameters(
        {"model_weight_file": str(checkpoint), "backend": "torch", "device": "cpu", "precision": "fp32"}
    )
    wf.run_on(path=str(path))
    annotated = task.get_image_with_graphics()
    factor = annotated.shape[0] // shape[0]
    assert annotated.shape == (shape[0] * factor, shape[1] * factor, 3)
    return annotated[::factor, ::factor]


def test_exif_rotated_photo_is_upright_in_training_and_inference_with_the_same_pixels(files, checkpoint):
    val = ImageFolderDataset([(files["phone"], 0)], eval_transform(PREP))
    train = ImageFolderDataset([(files["phone"], 0)], train_transform(PREP))
    seen = val.decode(0)  # decoded at the inference task's decode hint (73): 1/2 scale
    assert seen.shape == (120, 160, 3)  # landscape, as the viewer shows it
    assert np.abs(seen[10:80, 5:35].astype(int) - RED).max() < 40  # red band on the left...
    assert np.abs(seen[100:, 60:].astype(int) - GREEN).max() < 40  # ...green band at the bottom
    assert np.abs(seen[10:80, 60:].astype(int) - BLUE).max() < 40
    assert np.array_equal(train.decode(0), seen)  # augmentation's limit (90 px) also allows 1/2 scale here
    from workflow.core.imaging import load_image

    full = load_image(files["phone"])  # what inference's ports carry: the engine's decode at full size
    assert full.shape == (240, 320, 3)
    assert np.abs(full[::2, ::2].astype(int) - seen.astype(int)).mean() < 8  # the same upright picture
    inferred = _seen_by_inference(files["phone"], checkpoint, full.shape)
    assert np.array_equal(inferred[120:], full[120:])  # the same pixels (below the label)


def test_transparent_pixels_are_white_in_training_and_inference(files, checkpoint):
    seen = ImageFolderDataset([(files["cutout"], 0)], eval_transform(PREP)).decode(0)
    assert seen.shape == (160, 200, 3)
    assert (seen[:, 100:] == 255).all() and (seen[:, :100] == RED).all()  # on white, not black
    inferred = _seen_by_inference(files["cutout"], checkpoint, seen.shape)
    assert np.array_equal(inferred[80:], seen[80:])


MACHINES = {  # CPU class: /proc/cpuinfo flags, and what 'auto' must mean there
    "amx": ("avx2 avx512f avx512bw avx512_bf16 amx_tile amx_bf16 amx_int8", "bf16"),
    "avx512 without bf16": ("avx2 avx512f avx512bw avx512_vnni", "fp32"),
    "avx2": ("avx avx2 fma", "fp32"),
}


@pytest.mark.parametrize("machine", MACHINES)
def test_precision_auto_resolves_the_same_in_training_and_inference(monkeypatch, machine):
    flags, expected = MACHINES[machine]
    monkeypatch.setattr(
        runtime, "cpu_info", lambda: runtime.CpuInfo(f"{machine} CPU", frozenset(flags.split()))
    )
    monkeypatch.setattr(runtime, "cuda_available", lambda: False)
    train_p, infer_p = TrainParams(), InferResnextParams()
    assert train_p.precision == infer_p.precision == "auto" and train_p.device == infer_p.device == "auto"
    trained = resolve_train_runtime(train_p.device, train_p.precision, "train")
    inferred = infer_runtime(infer_p.device, infer_p.precision, infer_p.backend, task_id="classify")
    assert (trained.device, trained.precision) == (inferred.device, inferred.precision) == ("cpu", expected)


def test_precision_auto_on_cuda_is_fp16_in_both(monkeypatch):
    monkeypatch.setattr(runtime, "cuda_available", lambda: True)
    trained = resolve_train_runtime("auto", "auto", "train")
    inferred = infer_runtime("auto", "auto", "auto", task_id="classify")
    assert (trained.device, trained.precision) == (inferred.device, inferred.precision) == ("cuda", "fp16")


def test_neither_plugin_reads_cpu_flags_itself():
    root = Path(__file__).resolve().parents[1]
    for package in ("train_torchvision_resnext", "infer_torchvision_resnext"):
        for module in (root / package).glob("*.py"):
            text = module.read_text(encoding="utf-8")
            assert "/proc/cpuinfo" not in text and "amx_bf16" not in text, (
                f"{module}: decides the CPU class itself"
            )


def test_the_engine_holds_no_plugin_policy():
    """CPU facts live in the engine; the INT8 rule and OpenVINO's settings live in the inference plugin."""
    root = Path(__file__).resolve().parents[1] / "workflow"
    for module in root.rglob("*.py"):
        text = module.read_text(encoding="utf-8").lower()
        assert "openvino" not in text and "int8_min_agreement" not in text, f"{module}: plugin policy"

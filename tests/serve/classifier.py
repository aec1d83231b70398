"""A tiny random-weight ResNeXt checkpoint and its pipeline, for the classification and browser tests."""

from __future__ import annotations

from pathlib import Path

CLASSES = ["cat", "dog", "bird"]
SIDE = 32

PIPELINE = """version: 1
name: tiny-classifier
inputs:
  image: {{type: image}}
tasks:
  - id: classify
    task: infer_torchvision_resnext
    params: {{model_weight_file: '{ckpt}', top_k: 3, backend: torch, device: cpu, precision: fp32}}
"""


def make_checkpoint(path: Path) -> Path:
    """A seeded random ResNeXt-50 with a 3-class head at 32 px (fast to run, labels known)."""
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import create_model
    from infer_torchvision_resnext.recipe import Preprocessing

    torch.manual_seed(0)
    model = create_model("resnext50", num_classes=len(CLASSES)).eval()
    manifest = Manifest(
        FORMAT_VERSION,
        "resnext50_32x4d",
        list(CLASSES),
        Preprocessing.default(SIDE),
        {"note": "random weights for the serve tests"},
        "tests/serve",
    )
    return save_checkpoint(path, model, manifest)


def make_pipeline(folder: Path, ckpt: Path) -> Path:
    path = folder / "classify.yaml"
    path.write_text(PIPELINE.format(ckpt=str(ckpt)))
    return path


def photo_jpeg() -> bytes:
    """The scikit-image cat photo as JPEG bytes."""
    import io

    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buf, format="JPEG", quality=90)
    return buf.getvalue()

"""Test data for the Ray engine: a folder of small images and a seeded random ResNeXt-50 checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ["ant", "bee", "cat", "dog"]


def make_images(folder: Path, count: int) -> list[str]:
    """``count`` small PNG/JPEG images in two sub-folders; returns their relative paths."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rels = []
    for i in range(count):
        rel = f"{'a' if i % 2 else 'b'}/img{i:03d}.{'png' if i % 3 else 'jpg'}"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, size=(1, 1, 3))
        noise = rng.integers(0, 60, size=(40 + i % 7, 48, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
        rels.append(rel)
    return sorted(rels)


def make_checkpoint(path: Path) -> Path:
    """A seeded random ResNeXt-50 at 32 px with four classes, saved in the inference plugin's format."""
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import create_model
    from infer_torchvision_resnext.recipe import Preprocessing

    torch.manual_seed(0)
    model = create_model("resnext50", num_classes=len(CLASSES)).eval()
    manifest = Manifest(FORMAT_VERSION, "resnext50_32x4d", CLASSES, Preprocessing.default(32), {}, "tests")
    save_checkpoint(path, model, manifest)
    return path


def pipeline_text(checkpoint: Path) -> str:
    return f"""version: 1
name: ray-classify
inputs:
  image: {{type: image}}
tasks:
  - id: classify
    task: infer_torchvision_resnext
    params: {{model_weight_file: {checkpoint}, backend: torch, precision: fp32, top_k: 2, batch_size: 4}}
outputs:
  predictions: $steps.classify.classification
"""

"""Test data for the inference tests: scikit-image photos and a probe checkpoint that really classifies."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTO_NAMES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "colorwheel",
    "camera",
)
PROBE_SIZE = 64


def load_photos() -> dict[str, np.ndarray]:
    """HxWx3 uint8 RGB photos shipped inside the scikit-image wheel (greyscale ones repeated on 3
    channels)."""
    from skimage import data

    out = {}
    for name in PHOTO_NAMES:
        img = getattr(data, name)()
        out[name] = np.ascontiguousarray(
            np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]
        )
    return out


def random_crops(photo: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` random crops (30-100% of each side, half of them mirrored) of ``photo``."""
    h, w = photo.shape[:2]
    crops = []
    for _ in range(count):
        ch, cw = int(h * rng.uniform(0.3, 1.0)), int(w * rng.uniform(0.3, 1.0))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = photo[y : y + ch, x : x + cw]
        crops.append(np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop))
    return crops


def make_probe_checkpoint(
    path: Path, photos: dict[str, np.ndarray], train_per_photo: int = 12, test_per_photo: int = 40
):
    """Save a checkpoint whose head is fitted to recognise each photo; return (path, test crops, test labels).

    The backbone is a seeded random ResNeXt-50 at 64 px; the head is a ridge regression of one-hot
    photo labels on centred backbone features, scaled so the softmax is confident. Its logits have
    real margins, so precision/backend agreement on it means something (unlike a fully random head).
    """
    import torch

    from infer_torchvision_resnext.checkpoint.format import FORMAT_VERSION, Manifest, save_checkpoint
    from infer_torchvision_resnext.models import create_model
    from infer_torchvision_resnext.preprocess import normalize_nchw, preprocess_batch
    from infer_torchvision_resnext.recipe import Preprocessing

    rng = np.random.default_rng(0)
    names = list(photos)
    prep = Preprocessing.default(PROBE_SIZE)
    train, train_y, test, test_y = [], [], [], []
    for label, name in enumerate(names):
        crops = random_crops(photos[name], train_per_photo - 1 + test_per_photo, rng)
        train += [photos[name]] + crops[: train_per_photo - 1]
        train_y += [label] * train_per_photo
        test += crops[train_per_photo - 1 :]
        test_y += [label] * test_per_photo
    torch.manual_seed(0)
    model = create_model("resnext50", num_classes=len(names)).eval()
    head, model.fc = model.fc, torch.nn.Identity()
    with torch.inference_mode():
        x = normalize_nchw(torch.from_numpy(preprocess_batch(train, prep)), prep.mean, prep.std)
        feats = model(x).double()
    mu, sd = feats.mean(0), feats.std()
    f = (feats - mu) / sd
    y = torch.nn.functional.one_hot(torch.tensor(train_y), len(names)).double() * 2 - 1
    w = f.T @ torch.linalg.solve(f @ f.T + 1e-2 * torch.eye(len(f), dtype=f.dtype), y)  # ridge, dual form
    scale = 4.0
    head.weight.data = (scale * w.T / sd).float()
    head.bias.data = (-scale * (w.T @ mu) / sd).float()
    model.fc = head
    manifest = Manifest(
        FORMAT_VERSION, "resnext50_32x4d", names, prep, {"note": "probe fitted by the tests"}, "tests/infer"
    )
    save_checkpoint(path, model, manifest)
    return path, test, test_y

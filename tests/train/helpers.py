"""Helpers of the training tests."""

from __future__ import annotations

from pathlib import Path

from train_torchvision_resnext.params import TrainParams


def tiny_params(run_dir: Path, dataset: Path, **overrides) -> TrainParams:
    """A seconds-long full-network run: ResNeXt-50 at 32 px, random init, batch 4, no worker processes."""
    values = dict(
        dataset_folder=str(dataset),
        epochs=1,
        batch_size=4,
        input_size=32,
        use_pretrained=False,
        feature_extract=False,
        num_workers=0,
        hflip=True,
        optimizer="sgd",
        learning_rate=0.01,
        warmup_epochs=0.5,
        output_folder=str(run_dir),
        seed=0,
        quantize_int8=False,
    )  # INT8 calibration has its own tests (test_int8_export.py)
    values.update(overrides)
    return TrainParams(**values)


def state_equal(a: dict, b: dict) -> list[str]:
    """Names of the tensors that differ between two state dicts (empty: identical)."""
    import torch

    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


def comparable(rows: list[dict]) -> list[dict]:
    """Metric rows without the timing columns (those differ between identical runs)."""
    return [{k: v for k, v in r.items() if k not in ("epoch_seconds", "train_images_per_s")} for r in rows]

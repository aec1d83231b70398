"""Fixtures of the training tests: tiny real-digit datasets and parameters for fast runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from train_torchvision_resnext.sample_data import export_digits


@pytest.fixture(scope="session")
def tiny_digits(tmp_path_factory) -> Path:
    """Real MNIST digits 0, 1, 2: train/ (4 per class) and val/ (2 per class), 28x28 grey PNGs."""
    root = tmp_path_factory.mktemp("tiny") / "digits"
    export_digits(root, {"train": 4, "val": 2}, digits=(0, 1, 2))
    return root

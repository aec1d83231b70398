"""Fixtures of the hostile-input tests."""

from __future__ import annotations

import pytest

from tests.hostile import zygote
from tests.hostile.helpers import plugin_folder


@pytest.fixture(scope="session", autouse=True)
def zygotes():
    """The zygotes children are forked from (started on first use) end with the session."""
    yield
    zygote.shutdown()


@pytest.fixture(scope="session")
def plugins(tmp_path_factory):
    """A plugin folder with the small test tasks."""
    return plugin_folder(tmp_path_factory.mktemp("plugins"))


@pytest.fixture(scope="session")
def resnext_checkpoint(tmp_path_factory):
    """A random-weight ResNeXt-50 checkpoint with 2 classes at 32 px (our format)."""
    import torch

    from infer_torchvision_resnext.checkpoint.format import (
        FORMAT_VERSION,
        Manifest,
        Preprocessing,
        save_checkpoint,
    )
    from infer_torchvision_resnext.models import create_model

    torch.manual_seed(0)
    model = create_model("resnext50_32x4d", num_classes=2)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(
        path, model, Manifest(FORMAT_VERSION, "resnext50_32x4d", ["cat", "dog"], Preprocessing.default(32))
    )
    return path

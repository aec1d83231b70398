"""Offline set-up for the Ikomia script tests: small checkpoints, photos, digit folders, a cached ImageNet V1 file.

Nothing here is part of the scripts under test: it only provides what an Ikomia user would have on disk
(images, a dataset, weights in the torch hub cache) without any network access, and keeps the runs fast
(one torch thread, no OpenVINO conversion, no INT8 calibration).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

# torchvision's file name of ResNeXt-50 IMAGENET1K_V1, the weights Ikomia's plugin loads (pretrained=True)
V1_FILE = "resnext50_32x4d-7cdf4587.pth"


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory) -> Path:
    """A torch hub cache holding only the IMAGENET1K_V1 ResNeXt-50 file (seeded random weights, 1000 classes),
    as on the machine of an Ikomia user who ran the hub plugin once."""
    import torch
    import torchvision

    home = tmp_path_factory.mktemp("torch_home")
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    model = torchvision.models.resnext50_32x4d(weights=None)
    torch.save(model.state_dict(), home / "hub" / "checkpoints" / V1_FILE)
    return home


@pytest.fixture(autouse=True)
def _ikomia_env(tmp_path, monkeypatch, torch_home):
    """Per test: own working and home folders (Ikomia writes under ~/Ikomia), offline, one torch thread,
    torch backend only (no OpenVINO conversion or INT8 calibration: speed only, results are the same)."""
    import torch

    home = tmp_path / "home"
    work = tmp_path / "work"
    scratch = tmp_path / "tmp"
    for folder in (home, work, scratch):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setenv("WORKFLOW_OFFLINE", "1")
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path / "wf_cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(work)

    from infer_torchvision_resnext.backends import choice
    from infer_torchvision_resnext.int8 import select

    monkeypatch.setattr(choice, "openvino_available", lambda: False, raising=False)
    monkeypatch.setattr(select, "int8_available", lambda: False, raising=False)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ckpt(tmp_path_factory) -> Path:
    """A checkpoint written by our own code: random ResNeXt-50, classes cat/dog/bird, 32 px."""
    from tests.serve.classifier import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def classes() -> list[str]:
    from tests.serve.classifier import CLASSES

    return list(CLASSES)


@pytest.fixture(scope="session")
def cat() -> np.ndarray:
    """The scikit-image cat photo, 300x451 RGB uint8."""
    from skimage import data

    return np.ascontiguousarray(data.chelsea())


@pytest.fixture(scope="session")
def big_jpg(tmp_path_factory, cat) -> Path:
    """A 1200x1804 JPEG (the cat enlarged 4x): large enough for a reduced-scale decode to be tempting."""
    from PIL import Image

    path = tmp_path_factory.mktemp("big") / "cat_big.jpg"
    Image.fromarray(cat).resize((1804, 1200), Image.BILINEAR).save(path, quality=90)
    return path


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory, cat) -> Path:
    """Three small JPEG crops of the cat, one in a sub-folder."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    (root / "sub").mkdir()
    Image.fromarray(cat[:120, :160]).save(root / "a.jpg")
    Image.fromarray(cat[100:220, 200:360]).save(root / "b.jpg")
    Image.fromarray(cat[150:, 250:]).save(root / "sub" / "c.jpg")
    return root


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> Path:
    """Real MNIST digits 0, 1, 2 laid out as Ikomia's training expects: train/<class>/ (4 each), val/<class>/ (2
    each)."""
    from train_torchvision_resnext.sample_data import export_digits

    root = tmp_path_factory.mktemp("digits") / "dataset"
    export_digits(root, {"train": 4, "val": 2}, digits=(0, 1, 2))
    return root


@pytest.fixture(scope="session")
def flat_digits(tmp_path_factory) -> Path:
    """Real MNIST digits 0, 1, 2 as one folder of class folders (6 each), for dataset_classification's split."""
    from train_torchvision_resnext.sample_data import export_digits

    root = tmp_path_factory.mktemp("flat")
    export_digits(root, {"all": 6}, digits=(0, 1, 2), seed=1)
    return root / "all"


@pytest.fixture
def box_detector():
    """Registers 'test_fixed_boxes': a stand-in for an Ikomia object detector (no inputs) that always finds the
    same two boxes (x1, y1, x2, y2): (10, 20, 40, 60) and (50, 10, 120, 90). Yields the boxes."""
    from workflow import Port, Task, register_task
    from workflow.core.ports import Detections
    from workflow.plugins.registry import reset_default_registry

    boxes = [(10.0, 20.0, 40.0, 60.0), (50.0, 10.0, 120.0, 90.0)]

    class FixedBoxes(Task):
        name = "test_fixed_boxes"
        outputs = (Port("detections", Detections),)

        def run(self) -> None:
            self.set_output("detections", list(boxes))

    register_task(FixedBoxes)
    yield boxes
    reset_default_registry()

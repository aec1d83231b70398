"""Shared fixtures of the inference tests: isolated torch hub cache, small random-weight checkpoints."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests share 2 cores with other work: keep torch to one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME (torch.hub.get_dir() follows it); downloads stay possible unless a test blocks
    them."""
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("WORKFLOW_OFFLINE", raising=False)
    return home


@pytest.fixture
def no_network(monkeypatch):
    """Make torch hub downloads fail as they do offline (no socket is opened)."""
    import urllib.error

    import torch.hub

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture(scope="session", autouse=True)
def _openvino_cache(tmp_path_factory):
    """One OpenVINO cache folder per test session (conversions are shared between tests, not with the
    user)."""
    import os

    folder = tmp_path_factory.mktemp("wf_cache")
    before = os.environ.get("WORKFLOW_CACHE_DIR")
    os.environ["WORKFLOW_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("WORKFLOW_CACHE_DIR", None)
    else:
        os.environ["WORKFLOW_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def photos():
    """Named RGB photos from the scikit-image wheel."""
    from .helpers import load_photos

    return load_photos()


@pytest.fixture(scope="session")
def probe(tmp_path_factory, photos):
    """A checkpoint that really classifies: a seeded random ResNeXt-50 backbone at 64 px with a linear head
    fitted (ridge regression) to tell which photo a crop comes from. Returns (path, held-out crops, labels)."""
    from .helpers import make_probe_checkpoint

    return make_probe_checkpoint(tmp_path_factory.mktemp("probe") / "probe.pt", photos)

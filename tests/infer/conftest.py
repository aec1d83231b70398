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
    """An empty TORCH_HOME (torch.hub.get_dir() follows it); downloads stay possible unless a test blocks them."""
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

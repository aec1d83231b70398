"""Fixtures of the server tests: one torch thread, a tiny classifier pipeline shared by the session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def classifier_pipeline(tmp_path_factory):
    """(pipeline path, photo JPEG bytes) of a random-weight 3-class ResNeXt at 32 px."""
    import torch

    from .classifier import make_checkpoint, make_pipeline, photo_jpeg

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("serve_classifier")
    return make_pipeline(folder, make_checkpoint(folder / "tiny.pt")), photo_jpeg()


@pytest.fixture(scope="session")
def classifier_app(classifier_pipeline):
    from workflow.serve.config import ServeConfig
    from workflow.serve.server import prepare

    return prepare(classifier_pipeline[0], ServeConfig(max_batch=4, max_wait_ms=20))

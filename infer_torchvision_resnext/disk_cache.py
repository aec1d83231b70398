"""Where this plugin caches what it derives from weights (OpenVINO IR, INT8 models, architecture shapes)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$WORKFLOW_CACHE_DIR`` or ``$XDG_CACHE_HOME/cv-workflow`` (default ``~/.cache/cv-workflow``)."""
    env = os.environ.get("WORKFLOW_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cv-workflow"

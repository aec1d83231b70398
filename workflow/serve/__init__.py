"""``workflow serve``: a pipeline as an HTTP service (FastAPI + uvicorn) with dynamic batching.

Modules: :mod:`.config` (settings), :mod:`.service` (the pipeline: warm-up, overrides, one batch),
:mod:`.batching` (gathering requests), :mod:`.inputs` (reading requests), :mod:`.limits`
(413/401 and error statuses), :mod:`.metrics` (Prometheus text), :mod:`.encode` (output images),
:mod:`.page` (the web page), :mod:`.routes`, :mod:`.docs` (``/docs``), :mod:`.app`, :mod:`.server` (start-up, shutdown),
:mod:`.command` (the subcommand's arguments).
Nothing here is imported by ``import workflow``; FastAPI is needed only once this package is used
(``pip install 'cv-workflow[serve]'``).
"""

from __future__ import annotations

from .config import ServeConfig

__all__ = ["ServeConfig", "serve", "prepare"]


def __getattr__(name: str):
    if name in ("serve", "prepare"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

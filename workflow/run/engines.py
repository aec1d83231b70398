"""Other engines for ``Workflow.run_on(folder=..., engine=NAME)``, found by name and imported on use.

An engine is a function ``run(graph, folder, *, output_dir, **options) -> RunReport`` living in
a layer above the facade (like the CLI), so the facade names it by a string and imports it only
when asked: ``import workflow`` never loads Ray. ``local`` (the default) is the runner itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from workflow.core.errors import InputError

ENGINES = {"ray": "workflow.ray_engine:run_on_ray"}  # name -> "module:function"


def engine_names() -> list[str]:
    """Every engine ``run_on`` accepts, ``local`` first."""
    return ["local", *sorted(ENGINES)]


def run_on_engine(name: str, graph: Any, source: dict[str, Any]):
    """Run ``graph`` on ``source`` (``run_on``'s keywords) with the engine called ``name``.

    Raises:
        InputError: an unknown engine, or a source the engine does not run (only ``folder=``).
    """
    if name not in ENGINES:
        raise InputError(f"run_on: unknown engine {name!r}; known: {', '.join(engine_names())}")
    options = dict(source)
    others = sorted(k for k in ("path", "array", "video", "url") if options.get(k) is not None)
    if options.get("folder") is None or others:
        raise InputError(
            f"run_on: engine {name!r} runs folders: give folder= (got {', '.join(others) or 'no folder'})"
        )
    if "workers" in options:
        raise InputError(
            f"run_on: engine {name!r} decodes in its actors; 'workers' is a local option (use actors=)"
        )
    for key in ("path", "array", "video", "url"):
        options.pop(key, None)
    module, _, function = ENGINES[name].partition(":")
    run = getattr(importlib.import_module(module), function)
    return run(graph, options.pop("folder"), **options)

"""Folder inference on a pool of Ray actors: the same pipeline, executor, rows and results files as a local
folder run.

Entry layer (like the CLI): it drives the engine from above and nothing in the engine imports it.
Ray is imported only when a Ray run starts, so ``import workflow`` never loads it
(install it with ``pip install 'cv-workflow[ray]'``).

Modules: :mod:`.job` (the driver: list, resume, stream, write), :mod:`.actor` (one actor:
build the workflow once, read + decode + run batches), :mod:`.listing` (local folders and
``scheme://`` locations), :mod:`.pool` (the actors, fed in order), :mod:`.cluster` (joining or starting Ray),
:mod:`.threads` (threads per actor).
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_on_ray", "run_inputs_on_ray"]


def run_on_ray(graph: Any, folder: Any, **options: Any):
    """Run ``graph`` on every image below ``folder`` on Ray; see
    :func:`workflow.ray_engine.job.run_on_ray`."""
    from workflow.ray_engine.job import run_on_ray as run

    return run(graph, folder, **options)


def run_inputs_on_ray(graph: Any, inputs: dict[str, str], output_dir: Any, **options: Any):
    """The CLI's ``--input name=FOLDER`` form; see :func:`workflow.ray_engine.job.run_inputs_on_ray`."""
    from workflow.ray_engine.job import run_inputs_on_ray as run

    return run(graph, inputs, output_dir, **options)

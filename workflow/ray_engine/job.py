"""The driver of a Ray folder run: the run skeleton of a local run, with its batches executed on actors.

:class:`RayRun` is a :class:`workflow.run.Run`: it lists, resumes, opens, records, finishes and
writes report.json through the same methods as a local folder run, so ``results.csv`` /
``results.json`` / ``report.json`` have the same layout. It overrides two steps: :meth:`RayRun.prepare`
runs the static tasks once, here (their outputs go to every actor, which prepares its own per-item
tasks: the models load there), and :meth:`RayRun.batches` streams the names of the files still to
do through a pool of :class:`~workflow.ray_engine.actor.FolderActor`
(:class:`~workflow.ray_engine.pool.ActorPool`); their rows come back in file order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError, SetupError
from workflow.graph.executor import run_static
from workflow.run import Outcome, Run, RunOptions, default_batch_size, image_input, output_folder
from workflow.run.sources.base import Item

log = logging.getLogger(__name__)


def run_on_ray(
    graph: Any,
    folder: str | os.PathLike,
    *,
    output_dir: str | os.PathLike,
    input: str | None = None,
    extra_inputs: dict[str, Any] | None = None,
    resume: bool = False,
    save_images: bool = True,
    batch_size: int | None = None,
    actors: int | None = None,
    actor_cpus: int = 1,
    address: str | None = None,
):
    """Run ``graph`` on every image below ``folder`` with a pool of Ray actors; returns a RunReport like a
    local run.

    Args:
        folder: a local folder (visible to every node), or a ``scheme://`` location (``s3://bucket/photos``).
        output_dir: where results.csv/.json, report.json and saved images go (visible to every node).
        input, extra_inputs, resume, save_images: as for a local folder run
        (:func:`workflow.run.runner.run_on`).
        batch_size: images per batch in an actor (default: the tasks' ``batch_hint()``, else 8).
        actors: actors in the pool (default: the cluster's CPUs // ``actor_cpus``).
        actor_cpus: CPUs each actor reserves; its model runs with that many threads.
        address: the Ray cluster to join (default ``$RAY_ADDRESS``; neither: a local Ray on this machine's
        cores).

    Raises:
        SetupError: an actor could not build the workflow or load its models; the job stops (one line).
        InputError: a bad folder or option, or Ray not installed.
        RunInterrupted: Ctrl-C, after flushing the partial results.
    """
    from workflow.ray_engine.listing import folder_source

    if output_dir is None:
        raise InputError("engine 'ray' needs an output folder for its results")
    for option, value in (("batch_size", batch_size), ("actors", actors), ("actor_cpus", actor_cpus)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InputError(f"engine 'ray': {option} must be a whole number >= 1 (got {value!r})")
    graph.validate()
    out = output_folder(output_dir)
    options = RunOptions(
        image_input(graph, input),
        dict(extra_inputs or {}),
        out,
        batch_size or default_batch_size(graph),
        save_images,
        resume,
    )
    return RayRun(graph, folder_source(str(folder), out), options, actors, actor_cpus, address).execute()


class RayRun(Run):
    """A folder run whose batches run on a pool of Ray actors; everything else is :class:`Run`'s."""

    def __init__(
        self,
        graph: Any,
        source: Any,
        options: RunOptions,
        actors: int | None,
        cpus: int,
        address: str | None,
    ):
        super().__init__(graph, source, options)
        self.actors, self.cpus, self.address = actors, cpus, address
        self.engine: dict[str, Any] = {"name": "ray"}  # report.json's "engine"

    def prepare(self) -> None:
        """The static tasks, once, here: the actors get their outputs and prepare their own per-item tasks."""
        run_static(self.graph, self.static_cache, self.report.times)

    def batches(self, hint: int | None) -> Generator[list[Outcome], None, None]:
        """Push the files still to do through the actor pool; each batch's outcomes in file order.

        Raises:
            SetupError: an actor could not build the workflow or load its models (its one-line message).
        """
        from workflow.pipeline.build import dump_workflow
        from workflow.ray_engine import cluster, pool
        from workflow.ray_engine.actor import FAILED, FolderActor, JobSpec
        from workflow.ray_engine.listing import location_of, todo_names

        names = todo_names(self.source)
        cluster.connect(self.address)
        step = self.opt.batch_size
        size = max(1, min(self.actors or cluster.cluster_cpus() // self.cpus, -(-len(names) // step)))
        self.engine.update(actors=size, actor_cpus=self.cpus, batch_size=step)  # no idle actors
        spec = JobSpec(
            dump_workflow(self.graph),
            self.graph.name,
            self.opt.input_name,
            location_of(self.source),
            str(self.opt.output_dir),
            self.opt.save_images,
            self.cpus,
            self.opt.extra,
            self.static_cache,
        )
        batches = (names[i : i + step] for i in range(0, len(names), step))
        with pool.ActorPool(FolderActor, (spec,), size, self.cpus) as actors:
            for k, rows in enumerate(actors.map(batches)):
                if isinstance(
                    rows, pool.Lost
                ):  # its actor died on it every time: its files are the bad items
                    reason = f"the Ray actor running this file's batch died ({rows.reason})"
                    rows = [(n, FAILED, reason, None, None, {}) for n in names[k * step : (k + 1) * step]]
                yield self._outcomes(rows)

    def _outcomes(self, rows: list) -> list[Outcome]:
        """One batch's rows (see ``actor.Row``) as outcomes; their seconds per task go to the report.

        Raises:
            SetupError: a fatal row (the actor could not build the workflow, or a setup error while running).
        """
        from workflow.ray_engine.actor import FATAL, OK

        for _, status, message, *_ in rows:
            if status == FATAL:
                raise SetupError(str(message))
        outcomes = []
        for path, status, message, row, record, times in rows:
            for task, seconds in times.items():
                self.report.times[task] = self.report.times.get(task, 0.0) + seconds
            item = Item({"path": str(path)}, str(path))
            outcomes.append(
                Outcome(item, (row, record)) if status == OK else Outcome(item, error=str(message))
            )
        return outcomes

    def report_extra(self) -> dict[str, Any]:
        return {"engine": self.engine}


def run_inputs_on_ray(graph: Any, inputs: dict[str, str], output_dir: str | os.PathLike, **options: Any):
    """Run on the CLI's ``--input name=FOLDER`` values: the image input names the folder, other inputs pass as
    they are.

    Raises:
        InputError: an unknown input, no folder for the image input, or a second image input.
    """
    from workflow.core.ports import Image
    from workflow.ray_engine.listing import is_uri

    for name in inputs:
        if name not in graph.inputs:
            raise InputError(
                f"workflow '{graph.name}' has no input '{name}'; inputs: {', '.join(graph.inputs) or 'none'}"
            )
    images = [n for n in inputs if issubclass(graph.inputs[n], Image)]
    if len(images) != 1:
        raise InputError(
            f"engine 'ray' runs one image folder; give exactly one image input (got {', '.join(images) or 'none'})"
        )
    folder = inputs[images[0]]
    if not is_uri(folder) and not Path(folder).is_dir():
        raise InputError(f"{folder}: engine 'ray' runs folders; not a folder (input '{images[0]}')")
    extra = {n: v for n, v in inputs.items() if n != images[0]}
    return run_on_ray(
        graph,
        folder,
        output_dir=output_dir,
        input=images[0],
        extra_inputs=extra,
        **options,
    )

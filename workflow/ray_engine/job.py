"""The driver of a Ray folder run: list and resume like a local run, stream the files through actors, write
the rows.

Order: list the folder, open the results files (carrying resumed rows over), run the static
tasks once here, then stream the names of the files still to do through a pool of
:class:`~workflow.ray_engine.actor.FolderActor` (:class:`~workflow.ray_engine.pool.ActorPool`). Rows come back
in
file order and go through the local run's writer and report, so
``results.csv`` / ``results.json`` / ``report.json`` have the same layout as a local run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError, SetupError

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
    from workflow.graph.executor import run_static
    from workflow.ray_engine.listing import folder_source, todo_names
    from workflow.run import sharding
    from workflow.run.loop import Run, RunOptions
    from workflow.run.report import RunInterrupted
    from workflow.run.results_files import ResultsWriter
    from workflow.run.runner import _default_batch, _image_input, _output_folder

    if output_dir is None:
        raise InputError("engine 'ray' needs an output folder for its results")
    for option, value in (("batch_size", batch_size), ("actors", actors), ("actor_cpus", actor_cpus)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InputError(f"engine 'ray': {option} must be a whole number >= 1 (got {value!r})")
    graph.validate()
    out = _output_folder(output_dir)
    options = RunOptions(
        _image_input(graph, input),
        dict(extra_inputs or {}),
        out,
        batch_size or _default_batch(graph),
        save_images,
        resume,
    )
    source = folder_source(str(folder), out)
    run = Run(graph, source, options)
    columns = run.recorder.columns(source.key_fields)  # the header depends on the pipeline, as in a local run
    run.writer = ResultsWriter(out / "results.csv", out / "results.jsonl", source.key_fields, columns)
    done = run.writer.start(sharding.result_files(out) if resume else [], keep=source.owns)
    run.report.skipped = source.drop(done)
    engine: dict[str, Any] = {"name": "ray"}
    fatal = crash = None
    with run.guard:
        try:
            if source.total():
                for task in graph.tasks:
                    task.clear()
                run_static(
                    graph, run.static_cache, run.report.times
                )  # tasks that do not depend on the images: once, here
                fatal = _stream(run, todo_names(source), engine, actors, actor_cpus, address)
                crash = f"SetupError: {fatal}" if fatal else None
        except KeyboardInterrupt:
            run.report.interrupted = True
        except BaseException as exc:  # recorded in report.json, then raised as it is
            crash = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with run.guard.critical(reraise=False):
                run.finish({"engine": engine, **({"fatal": crash} if crash else {})})
    if fatal:
        raise SetupError(fatal)
    if run.report.interrupted:
        raise RunInterrupted(run.report)
    return run.report


def _stream(
    run, names: list[str], engine: dict[str, Any], actors: int | None, cpus: int, address: str | None
) -> str | None:
    """Push ``names`` through the actor pool, writing rows as batches come back. Returns the fatal error, if
    any."""
    from workflow.core.progress import progress_bar
    from workflow.pipeline.build import dump_workflow
    from workflow.ray_engine.actor import FAILED, FolderActor, JobSpec
    from workflow.ray_engine.cluster import cluster_cpus, connect
    from workflow.ray_engine.listing import location_of
    from workflow.ray_engine.pool import ActorPool, Lost

    connect(address)
    size = max(
        1, min(actors or cluster_cpus() // cpus, -(-len(names) // run.opt.batch_size))
    )  # no idle actors
    engine.update(actors=size, actor_cpus=cpus, batch_size=run.opt.batch_size)
    spec = JobSpec(
        dump_workflow(run.graph),
        run.graph.name,
        run.opt.input_name,
        location_of(run.source),
        str(run.opt.output_dir),
        run.opt.save_images,
        cpus,
        run.opt.extra,
        run.static_cache,
    )
    step = run.opt.batch_size
    batches = (names[i : i + step] for i in range(0, len(names), step))
    bar = progress_bar(total=len(names), desc=run.graph.name, unit="img")
    try:
        with ActorPool(FolderActor, (spec,), size, cpus) as pool:
            for k, rows in enumerate(pool.map(batches)):
                if isinstance(rows, Lost):  # its actor died on it every time: its files are the bad items
                    rows = [
                        (
                            n,
                            FAILED,
                            f"the Ray actor running this file's batch died ({rows.reason})",
                            None,
                            None,
                            {},
                        )
                        for n in names[k * step : (k + 1) * step]
                    ]
                fatal = _write(run, rows)
                if fatal:
                    return fatal
                bar.update(len(rows))
    finally:
        bar.close()
    return None


def _write(run, rows: list) -> str | None:
    """Count and write one batch's rows (see ``actor.Row``); a fatal row's message instead, nothing
    written."""
    from workflow.ray_engine.actor import FAILED, FATAL, OK

    for _, status, message, *_ in rows:
        if status == FATAL:
            return str(message)
    report, good = run.report, []
    with run.guard.critical():  # counts and rows stay consistent even under Ctrl-C
        for path, status, message, row, record, times in rows:
            for task, seconds in times.items():
                report.times[task] = report.times.get(task, 0.0) + seconds
            if status == OK:
                good.append((row, record))
                report.processed += 1
            elif status == FAILED:
                report.failed += 1
                report.errors.append({"path": str(path), "reason": str(message)})
        run.writer.write(good)
    return None


def run_inputs_on_ray(graph: Any, inputs: dict[str, str], output_dir: str | os.PathLike, **options: Any):
    """Run on the CLI's ``--input name=FOLDER`` values: the image input names the folder, other inputs pass as
    they are.

    Raises:
        InputError: an unknown input, no folder for the image input, or a second image input.
    """
    from workflow.core.ports import Image
    from workflow.ray_engine.listing import is_uri
    from workflow.run.runner import _image_input

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
        input=_image_input(graph, images[0]),
        extra_inputs=extra,
        **options,
    )

"""One Ray actor of a folder run: builds the workflow once, then reads, decodes and runs batches of files into
rows.

The batches go through the executor as in a local folder run (static outputs computed by
the driver, :meth:`Task.prepare` once per actor, the decode hint, per-item failures isolated)
and become rows through the local run's :class:`~workflow.run.records.Recorder`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError, SetupError, WorkflowError

log = logging.getLogger(__name__)
OK, FAILED, FATAL = "ok", "failed", "fatal"
Row = tuple  # (path, status, message, row dict or None, record dict or None, {task: seconds})


@dataclass(frozen=True)
class JobSpec:
    """Everything an actor needs, sent once to each actor (plain values only)."""

    pipeline: (
        str  # the workflow as pipeline YAML (what `workflow run` loads; scripts' graphs are dumped to it)
    )
    name: str  # the workflow's name, for messages
    input_name: str
    location: str  # the folder: a local path or a scheme://location (see workflow.ray_engine.listing)
    output_dir: str
    save_images: bool
    cpus: int
    extra_inputs: dict[str, Any] = field(default_factory=dict)
    static_cache: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # outputs of static tasks, run by the driver


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (foreign exceptions prefixed with their type)."""
    text = str(exc) if isinstance(exc, WorkflowError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


class FolderActor:
    """One Ray actor (see :mod:`.pool`): its workflow built (and models loaded) once, then called on batches
    of names.

    A failure while building is not raised here (Ray would restart the actor and bury the
    message): every batch then answers with ``fatal`` rows, which the driver turns into one
    :class:`~workflow.core.errors.SetupError` that stops the job. So does a SetupError while running.
    """

    def __init__(self, spec: JobSpec):
        from workflow.ray_engine.threads import limit_threads

        limit_threads(spec.cpus)  # before torch is imported: BLAS/OpenMP read it once
        self.spec, self.fatal = spec, None
        self.static_cache = {k: dict(v) for k, v in spec.static_cache.items()}
        try:
            self._build()
        except Exception as exc:  # carried to the driver as fatal rows, raised there
            self.fatal = one_line(exc)
        limit_threads(spec.cpus)  # torch may have been imported while building

    def _build(self) -> None:
        from workflow.core.context import RunContext
        from workflow.graph.executor import prepare_tasks
        from workflow.graph.graph import Graph
        from workflow.pipeline.build import loads_workflow
        from workflow.ray_engine.listing import is_uri, open_location
        from workflow.run.loop import decode_hint
        from workflow.run.records import Recorder

        spec = self.spec
        self.fs, self.base = open_location(spec.location)
        self.graph = loads_workflow(spec.pipeline, source=f"{spec.name} (on a Ray actor)", graph_cls=Graph)
        self.graph.validate()
        out = Path(spec.output_dir)
        self.context = RunContext(out, spec.save_images)
        self.recorder = Recorder(
            self.graph, out, spec.save_images, None if is_uri(spec.location) else Path(self.base)
        )
        for task in self.graph.tasks:
            task.clear()
        prepare_tasks(self.graph, self.static_cache, spec.extra_inputs)
        self.hint = decode_hint(self.graph, spec.input_name)

    def __call__(self, names: list[str]) -> list[Row]:
        """One :data:`Row` per name, in order of completion within the batch (bad files first)."""
        names = [str(n) for n in names]
        if self.fatal is None:
            try:
                return self._run(names)
            except SetupError as exc:
                self.fatal = one_line(exc)
        return [(n, FATAL, self.fatal, None, None, {}) for n in names]

    def _read(self, name: str) -> bytes:
        with self.fs.open_input_stream(f"{self.base}/{name}") as fp:
            return fp.read()

    def _run(self, names: list[str]) -> list[Row]:
        from workflow.core.context import run_context
        from workflow.core.imaging import decode_bytes
        from workflow.graph.executor import execute

        rows: list[Row] = []
        decoded: list[tuple[str, Any]] = []
        times: dict[str, float] = {}
        start = time.perf_counter()
        for name in names:
            try:
                decoded.append((name, decode_bytes(self._read(name), name, min_side=self.hint)))
            except InputError as exc:
                rows.append((name, FAILED, one_line(exc).removeprefix(f"{name}: "), None, None, {}))
            except (
                Exception
            ) as exc:  # an unreadable file or an unexpected decoder failure is still one bad file
                rows.append((name, FAILED, one_line(exc), None, None, {}))
        times["read+decode"] = time.perf_counter() - start
        if decoded:
            inputs = [{**self.spec.extra_inputs, self.spec.input_name: image} for _, image in decoded]
            with run_context(self.context):
                results = execute(self.graph, inputs, False, self.static_cache, times)
                for (name, _), result in zip(decoded, results):
                    if result.error is not None:
                        rows.append((name, FAILED, " ".join(result.error.split()), None, None, {}))
                        continue
                    try:
                        row, rec = self.recorder.record({"path": name}, name, result.outputs, save_files=True)
                    except (WorkflowError, OSError, ValueError) as exc:  # could not save this item's images
                        rows.append((name, FAILED, one_line(exc), None, None, {}))
                        continue
                    rows.append((name, OK, "", row, rec, {}))
        if rows:
            rows[0] = (*rows[0][:5], times)  # the batch's seconds per task, counted once
        return rows

"""One Ray actor of a folder run: builds the workflow once, then reads and decodes batches of files and
runs them into rows.

Reading goes through pyarrow (local folders and ``scheme://`` locations alike); running is the
local run's own step, a :class:`~workflow.run.batch.BatchStep`: prepared once per actor (the
static outputs come from the driver, :meth:`Task.prepare`, the decode hint), then the executor
and the :class:`~workflow.run.records.Recorder` on each batch. Its outcomes go back to the driver
as plain :data:`Row` tuples.
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
        try:
            self._build()
        except Exception as exc:  # carried to the driver as fatal rows, raised there
            self.fatal = one_line(exc)
        limit_threads(spec.cpus)  # torch may have been imported while building

    def _build(self) -> None:
        from workflow.core.context import RunContext, run_context
        from workflow.graph.graph import Graph
        from workflow.pipeline.build import loads_workflow
        from workflow.ray_engine.listing import is_uri, open_location
        from workflow.run import BatchStep, Recorder

        spec = self.spec
        self.fs, self.base = open_location(spec.location)
        graph = loads_workflow(spec.pipeline, source=f"{spec.name} (on a Ray actor)", graph_cls=Graph)
        graph.validate()
        out = Path(spec.output_dir)
        self.context = RunContext(out, spec.save_images)
        recorder = Recorder(graph, out, spec.save_images, None if is_uri(spec.location) else Path(self.base))
        static = {k: dict(v) for k, v in spec.static_cache.items()}
        self.step = BatchStep(
            graph,
            recorder,
            spec.input_name,
            spec.extra_inputs,
            static_cache=static,
            reduced_decode=not spec.save_images,
        )
        with run_context(self.context):
            self.hint = self.step.prepare({})  # the driver ran the static tasks: only prepare() runs here

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
        from workflow.run import Outcome
        from workflow.run.sources.base import Item

        outcomes: list[Outcome] = []
        decoded: list[Item] = []
        times: dict[str, float] = {}
        start = time.perf_counter()
        for name in names:
            item = Item({"path": name}, name)
            try:
                item.image = decode_bytes(self._read(name), name, min_side=self.hint)
                decoded.append(item)
            except InputError as exc:
                outcomes.append(Outcome(item, error=one_line(exc).removeprefix(f"{name}: ")))
            except (
                Exception
            ) as exc:  # an unreadable file or an unexpected decoder failure is still one bad file
                outcomes.append(Outcome(item, error=one_line(exc)))
        times["read+decode"] = time.perf_counter() - start
        if decoded:
            with run_context(self.context):
                outcomes += self.step(decoded, times)
        rows: list[Row] = [
            (o.item.name, OK, "", *o.rows, {})
            if o.error is None
            else (o.item.name, FAILED, " ".join(o.error.split()), None, None, {})
            for o in outcomes
        ]
        if rows:
            rows[0] = (*rows[0][:5], times)  # the batch's seconds per task, counted once
        return rows

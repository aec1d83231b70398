"""The pipeline behind the server: warm-up, description, per-request overrides, one batch through the
executor."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from workflow.core.errors import ParamError
from workflow.core.ports import Image
from workflow.workflow import Workflow

from .batching import Job

log = logging.getLogger(__name__)
WARMUP_SIDE = 64


@dataclass
class BatchResult:
    """What one job gets back from its batch."""

    outputs: dict[str, Any]
    error: str | None
    batch_size: int
    queue_s: float
    run_s: float
    task_s: dict[str, float]


class PipelineService:
    """Owns the workflow: only the batch thread runs it (after :meth:`warm_up`)."""

    def __init__(self, wf: Workflow):
        self.wf = wf
        self.static_cache: dict[str, dict[str, Any]] = {}
        self.ready = False
        self.image_inputs = [n for n, t in wf.inputs.items() if issubclass(t, Image)]
        self.outputs = wf.output_names()

    # -- start-up ---------------------------------------------------------------
    def warm_up(self) -> None:
        """Validate, run the static tasks (e.g. training) and load every model with one grey image.

        Raises:
            WorkflowError: the pipeline cannot run (the server must not start).
        """
        import numpy as np

        self.wf.validate()
        grey = np.full((WARMUP_SIDE, WARMUP_SIDE, 3), 127, np.uint8)
        start = time.perf_counter()
        self.wf.run_items(
            [{name: grey for name in self.image_inputs}], raise_errors=True, static_cache=self.static_cache
        )
        log.info("pipeline '%s' warmed up in %.2f s", self.wf.name, time.perf_counter() - start)
        self.ready = True

    def decode_hint(self, input_name: str) -> int | None:
        """The smallest image side the tasks fed by ``input_name`` need (None when one of them does not
        say)."""
        from workflow.run.loop import decode_hint

        return decode_hint(self.wf, input_name)

    # -- description ------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Inputs, outputs and tasks (with parameters and which of them a request may override)."""
        outputs = {
            name: {"task": tid, "port": port, "type": self.wf.get_task(tid).output_port(port).type.label}
            for name, (tid, port) in self.outputs.items()
        }
        tasks = [
            {
                "id": t.id,
                "task": t.name,
                "params": t.params.model_dump(mode="json"),  # typed values (get_parameters() gives strings)
                "overridable": sorted(request_params(t)),
                "inputs": [p.describe() for p in t.inputs],
                "outputs": [p.describe() for p in t.outputs],
            }
            for t in self.wf.order()
        ]
        return {
            "name": self.wf.name,
            "inputs": {n: t.label for n, t in self.wf.inputs.items()},
            "image_inputs": self.image_inputs,
            "outputs": outputs,
            "tasks": tasks,
        }

    def image_outputs(self) -> list[str]:
        return [
            n
            for n, (tid, port) in self.outputs.items()
            if issubclass(self.wf.get_task(tid).output_port(port).type, Image)
        ]

    # -- overrides ----------------------------------------------------------------
    def check_overrides(self, params: Any) -> tuple:
        """Validate ``{task_id: {param: value}}`` and return it as a hashable key for batching.

        Raises:
            ParamError: not a mapping, unknown task, a parameter a request may not change, or a bad value.
        """
        if params in (None, {}):
            return ()
        if not isinstance(params, dict):
            raise ParamError(
                f"params: expected an object {{task_id: {{param: value}}}}, got {type(params).__name__}"
            )
        key = []
        for tid, values in params.items():
            task = self.wf.get_task(str(tid)) if str(tid) in {t.id for t in self.wf.tasks} else None
            if task is None:
                raise ParamError(
                    f"params: unknown task '{tid}'; tasks: {', '.join(t.id for t in self.wf.tasks)}"
                )
            if not isinstance(values, dict):
                raise ParamError(
                    f"params.{tid}: expected an object of parameters, got {type(values).__name__}"
                )
            allowed = request_params(task)
            for name in values:
                if name not in allowed:
                    raise ParamError(
                        f"params.{tid}.{name}: not changeable per request (it would rebuild a model); "
                        f"changeable: {', '.join(sorted(allowed)) or 'none'}"
                    )
            from workflow.core.params import build_params

            new = build_params(task.id, task.Params, values, base=task.params)
            key.append((task.id, tuple(sorted((n, getattr(new, n)) for n in values))))
        return tuple(sorted(key))

    # -- running (batch thread only) --------------------------------------------
    def run_batch(self, jobs: list[Job]) -> list[BatchResult]:
        """Run jobs grouped by their overrides; each group is one ``run_items`` call (one model call per
        task)."""
        groups: OrderedDict[tuple, list[int]] = OrderedDict()
        for i, job in enumerate(jobs):
            groups.setdefault(job.overrides, []).append(i)
        results: list[Any] = [None] * len(jobs)
        for overrides, idx in groups.items():
            restore = self._apply(overrides)
            try:
                start = time.perf_counter()
                items = self.wf.run_items([jobs[i].inputs for i in idx], static_cache=self.static_cache)
                run_s = time.perf_counter() - start
                task_s = {k: round(v, 6) for k, v in self.wf.get_task_seconds().items()}
            finally:
                self._apply(restore)
            for i, item in zip(idx, items):
                results[i] = BatchResult(
                    item.outputs, item.error, len(jobs), start - jobs[i].enqueued, run_s, task_s
                )
        return results

    def _apply(self, overrides: tuple) -> tuple:
        """Set the overrides; returns the overrides that restore the previous values."""
        previous = []
        for tid, pairs in overrides:
            task = self.wf.get_task(tid)
            current = task.params.model_dump()
            previous.append((tid, tuple((n, current[n]) for n, _ in pairs)))
            task.set_parameters(dict(pairs))
        return tuple(previous)

    # -- results ------------------------------------------------------------------
    def outputs_json(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """JSON view of the non-image outputs (images are returned separately, on request)."""
        out = {}
        for name, (tid, port) in self.outputs.items():
            ptype = self.wf.get_task(tid).output_port(port).type
            if issubclass(ptype, Image):
                continue
            value = outputs.get(name)
            out[name] = None if value is None else ptype.to_jsonable(value)
        return out


def request_params(task) -> frozenset[str]:
    """Parameters a single request may change: the task's ``request_params`` (none when it does not say)."""
    return frozenset(getattr(task, "request_params", ()) or ())

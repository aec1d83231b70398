"""Runs a workflow's tasks on a batch of items: static tasks once, per-item tasks batched, bad items isolated."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workflow.errors import PortError, TaskRunError, WorkflowError
from workflow.task import Task

if TYPE_CHECKING:
    from workflow.workflow import Workflow

INPUTS = "$inputs"  # pseudo task id of the workflow's own inputs
Outputs = dict[str, Any]


@dataclass
class ItemResult:
    """What one item (image, frame) produced: the workflow outputs, or the error that stopped it."""

    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def execute(wf: Workflow, items: list[dict[str, Any]], raise_errors: bool, static_out: dict[str, Outputs],
            times: dict[str, float]) -> list[ItemResult]:
    """Run ``items`` through ``wf`` in topological order; see :meth:`Workflow.run_items`.

    ``static_out`` holds the outputs of tasks that do not depend on the items (filled
    here when empty); ``times`` receives the seconds spent per task.
    """
    dynamic = wf.per_item_tasks()
    item_out: list[dict[str, Outputs]] = [{} for _ in items]
    errors: list[str | None] = [None] * len(items)
    for task in wf.order():
        if task.id not in dynamic and task.id in static_out:
            continue  # already ran in an earlier batch of this run
        start = time.perf_counter()
        if task.id not in dynamic:
            task.clear()
            static_out[task.id] = run_task(task, [gather(wf, task, {}, {}, static_out)])[0]
        else:
            alive, batch = [], []
            for i in (i for i in range(len(items)) if errors[i] is None):
                try:
                    batch.append(gather(wf, task, items[i], item_out[i], static_out))
                    alive.append(i)
                except WorkflowError as exc:
                    if raise_errors:
                        raise
                    errors[i] = str(exc)
            if raise_errors:
                outs = run_task(task, batch) if batch else []
            else:
                alive, outs = run_isolating(task, alive, batch, errors)
            for i, out in zip(alive, outs):
                item_out[i][task.id] = out
        times[task.id] = times.get(task.id, 0.0) + time.perf_counter() - start
    names = wf.output_names()
    return [ItemResult(error=errors[i]) if errors[i] is not None else
            ItemResult(outputs={n: (static_out.get(tid) or item_out[i].get(tid, {})).get(port) for n, (tid, port) in names.items()})
            for i in range(len(items))]


def gather(wf: Workflow, task: Task, item: dict[str, Any], item_out: dict[str, Outputs], static_out: dict[str, Outputs]) -> dict[str, Any]:
    """The input values of ``task`` for one item, following the workflow's edges.

    Raises:
        PortError: a required input received no data.
    """
    values: dict[str, Any] = {}
    for e in wf.edges:
        if e.dst != task.id:
            continue
        source = item if e.src == INPUTS else (item_out.get(e.src) or static_out.get(e.src) or {})
        value = source.get(e.src_port)
        if value is not None:
            values[e.dst_port] = value
    for port in task.inputs:
        if not port.optional and port.name not in values:
            raise PortError(f"task '{task.id}': required input '{port.name}' ({port.type.label}) received no data")
    return values


def run_isolating(task: Task, alive: list[int], batch: list[dict[str, Any]], errors: list[str | None]) -> tuple[list[int], list[Outputs]]:
    """Run a batch; if it fails, rerun item by item so only the bad items are dropped (with their error)."""
    if not batch:
        return [], []
    try:
        return alive, run_task(task, batch)
    except Exception as exc:
        if len(batch) == 1:
            errors[alive[0]] = str(exc)
            return [], []
    keep, outs = [], []
    for i, single in zip(alive, batch):
        try:
            outs += run_task(task, [single])
            keep.append(i)
        except Exception as exc:
            errors[i] = str(exc)
    return keep, outs


def run_task(task: Task, batch: list[dict[str, Any]]) -> list[Outputs]:
    """``task.run_batch(batch)``, with foreign exceptions wrapped in a TaskRunError naming the task."""
    try:
        outs = task.run_batch(batch)
    except WorkflowError:
        raise
    except Exception as exc:
        raise TaskRunError(f"task '{task.id}' failed: {type(exc).__name__}: {exc}") from exc
    if len(outs) != len(batch):
        raise TaskRunError(f"task '{task.id}': run_batch returned {len(outs)} results for {len(batch)} items")
    return outs

"""Runs a graph's tasks on a batch of items: static tasks once, per-item tasks batched, bad items isolated.

Each value is checked once per step: a workflow input when the item enters the graph, a task's
output when the task returns it (:meth:`Task.check_outputs`). A value passed along an edge is not
checked again: the graph checked at build time that the two ports' types fit.

A failure that depends on the item is recorded for that item and the others carry
on; a :class:`~workflow.core.errors.SetupError` never is: it propagates at once, before
any retry item by item.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from workflow.core.errors import GraphError, PortError, SetupError, TaskRunError, WorkflowError
from workflow.core.task import Task
from workflow.graph.graph import INPUTS, Graph

Outputs = dict[str, Any]


@dataclass
class ItemResult:
    """What one item (image, frame) produced: the workflow outputs, or the error that stopped it."""

    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def run_static(graph: Graph, static_out: dict[str, Outputs], times: dict[str, float]) -> None:
    """Run the tasks that do not depend on any workflow input, unless ``static_out`` already holds them.

    Their outputs are stored in ``static_out`` (kept by the caller for the whole run). Errors propagate.
    """
    dynamic = graph.per_item_tasks()
    for task in graph.order():
        if task.id in dynamic or task.id in static_out:
            continue
        start = time.perf_counter()
        task.clear()
        static_out[task.id] = run_task(task, [gather(graph, task, {}, {}, static_out)])[0]
        times[task.id] = times.get(task.id, 0.0) + time.perf_counter() - start


def prepare_tasks(graph: Graph, static_out: dict[str, Outputs], constants: dict[str, Any]) -> None:
    """Call :meth:`Task.prepare` once on every per-item task, in order, with its inputs that are the same for
    every item.

    Those are the outputs of static tasks (already in ``static_out``) and the workflow
    inputs named in ``constants``.

    Raises:
        SetupError: a task failed to prepare (a foreign exception is wrapped, naming the task).
        WorkflowError: as raised by the task.
    """
    dynamic = graph.per_item_tasks()
    for task in graph.order():
        if task.id not in dynamic:
            continue
        values: dict[str, Any] = {}
        for e in graph.edges:
            if e.dst != task.id:
                continue
            if e.src == INPUTS:
                if constants.get(e.src_port) is not None:
                    values[e.dst_port] = _checked(task, e.dst_port, constants[e.src_port])
            elif static_out.get(e.src, {}).get(e.src_port) is not None:
                values[e.dst_port] = static_out[e.src][e.src_port]
        try:
            task.prepare(values)
        except WorkflowError:
            raise
        except Exception as exc:
            raise SetupError(f"task '{task.id}' failed to prepare: {type(exc).__name__}: {exc}") from exc


def _checked(task: Task, port: str, value: Any) -> Any:
    """``value`` as the input ``port`` of ``task`` takes it (e.g. a model path as a Path)."""
    dtype = task.input_port(port).type
    try:
        return dtype.check(value)
    except TypeError as exc:
        raise PortError(f"task '{task.id}': input '{port}' ({dtype.label}): {exc}") from None


def execute(
    graph: Graph,
    items: list[dict[str, Any]],
    raise_errors: bool,
    static_out: dict[str, Outputs],
    times: dict[str, float],
) -> list[ItemResult]:
    """Run ``items`` (each a dict of workflow inputs) through ``graph`` in topological order.

    Args:
        raise_errors: raise the first error instead of recording it per item.
        static_out: outputs of the tasks that do not depend on the items, from :func:`run_static`,
            which the caller runs once per run before the first batch.
        times: receives the seconds spent per task.

    Raises:
        SetupError: always at once, whatever ``raise_errors`` says.
        GraphError: a static task has not run (the caller skipped :func:`run_static`).
    """
    dynamic = graph.per_item_tasks()
    missing = [t.id for t in graph.order() if t.id not in dynamic and t.id not in static_out]
    if missing:
        raise GraphError(
            f"static task(s) {', '.join(missing)} have not run: call run_static() once per run first"
        )
    item_out: list[dict[str, Outputs]] = [{} for _ in items]
    errors: list[str | None] = [None] * len(items)
    items = [_checked_item(graph, item, i, errors, raise_errors) for i, item in enumerate(items)]
    for task in graph.order():
        if task.id not in dynamic:
            continue
        start = time.perf_counter()
        alive, batch = [], []
        for i in (i for i in range(len(items)) if errors[i] is None):
            try:
                batch.append(gather(graph, task, items[i], item_out[i], static_out))
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
    names = graph.output_names()
    return [
        ItemResult(error=errors[i])
        if errors[i] is not None
        else ItemResult(
            outputs={
                n: (static_out.get(tid) or item_out[i].get(tid, {})).get(port)
                for n, (tid, port) in names.items()
            }
        )
        for i in range(len(items))
    ]


def _checked_item(
    graph: Graph, item: dict[str, Any], index: int, errors: list[str | None], raise_errors: bool
) -> dict[str, Any]:
    """``item``'s workflow inputs checked against their declared types (once, as the item enters)."""
    out = {}
    for name, value in item.items():
        dtype = graph.inputs.get(name)
        if value is None or dtype is None:
            out[name] = value
            continue
        try:
            out[name] = dtype.check(value)
        except TypeError as exc:
            message = f"workflow input '{name}' ({dtype.label}): {exc}"
            if raise_errors:
                raise PortError(message) from None
            errors[index] = message
    return out


def gather(
    graph: Graph,
    task: Task,
    item: dict[str, Any],
    item_out: dict[str, Outputs],
    static_out: dict[str, Outputs],
) -> dict[str, Any]:
    """The input values of ``task`` for one item, following the graph's edges.

    Raises:
        PortError: a required input received no data.
    """
    values: dict[str, Any] = {}
    for e in graph.edges:
        if e.dst != task.id:
            continue
        source = item if e.src == INPUTS else (item_out.get(e.src) or static_out.get(e.src) or {})
        value = source.get(e.src_port)
        if value is not None:
            values[e.dst_port] = value
    for port in task.inputs:
        if not port.optional and port.name not in values:
            raise PortError(
                f"task '{task.id}': required input '{port.name}' ({port.type.label}) received no data"
            )
    return values


def run_isolating(
    task: Task, alive: list[int], batch: list[dict[str, Any]], errors: list[str | None]
) -> tuple[list[int], list[Outputs]]:
    """Run a batch; if it fails, rerun item by item so only the bad items are dropped (with their error).

    A :class:`SetupError` is not an item's fault: it propagates at once, never retried.
    """
    if not batch:
        return [], []
    try:
        return alive, run_task(task, batch)
    except SetupError:
        raise
    except Exception as exc:
        if len(batch) == 1:
            errors[alive[0]] = str(exc)
            return [], []
    keep, outs = [], []
    for i, single in zip(alive, batch):
        try:
            outs += run_task(task, [single])
            keep.append(i)
        except SetupError:
            raise
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
    for out in outs:
        task.check_outputs(out)
    return outs

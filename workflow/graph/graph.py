"""The task graph: tasks, typed edges, workflow inputs and outputs, auto-connect, validation, order.

Pure structure: nothing here runs a task (see :mod:`workflow.graph.executor`) or reads a file.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from workflow.core.errors import GraphError, PortError, WorkflowError
from workflow.core.ports import DataType, Image, resolve_data_type
from workflow.core.task import Task
from workflow.plugins.registry import Registry, default_registry

INPUTS = "$inputs"  # pseudo task id of the workflow's own inputs


@dataclass(frozen=True)
class Edge:
    """Data flows from ``src``'s output ``src_port`` to ``dst``'s input ``dst_port``.

    ``src`` is a task id, or ``INPUTS`` for a workflow input named ``src_port``.
    """

    src: str
    src_port: str
    dst: str
    dst_port: str

    def ref(self) -> str:
        return f"$inputs.{self.src_port}" if self.src == INPUTS else f"$steps.{self.src}.{self.src_port}"


class Graph:
    """Tasks and typed edges between them; knows nothing about running them.

    Args:
        name: shown in logs and saved pipelines.
        inputs: workflow inputs as ``{name: data type or its label}``; default ``{"image": Image}``.
        registry: where task names are looked up (default: the process-wide registry).
    """

    def __init__(
        self, name: str = "workflow", inputs: dict[str, Any] | None = None, registry: Registry | None = None
    ):
        self.name = name
        self.inputs: dict[str, type[DataType]] = {
            k: resolve_data_type(v) if isinstance(v, str) else v
            for k, v in (inputs if inputs is not None else {"image": Image}).items()
        }
        self.outputs: dict[str, tuple[str, str]] = {}
        self.registry = registry or default_registry()
        self._tasks: dict[str, Task] = {}
        self._edges: list[Edge] = []
        self._wired: set[tuple[str, str]] = set()  # (task id, input port) of every edge: O(1) replace checks

    # -- building -----------------------------------------------------------
    @property
    def tasks(self) -> list[Task]:
        return list(self._tasks.values())

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def add_task(
        self,
        task: Task | type[Task] | str | None = None,
        *,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        task_id: str | None = None,
        auto_connect: bool = False,
    ) -> Task:
        """Add a task and return it: a registered name (positional or ``name=``), a Task instance
        (e.g. from :mod:`workflow.plugins.ik`) or a Task class.

        Raises:
            PluginError: unknown task name.  ParamError: bad params.  PortError: auto-connect found nothing.
            GraphError: nothing to add, two names, or a task id already used.
        """
        if isinstance(task, str):
            if name not in (None, task):
                raise GraphError(f"add_task got two task names: '{task}' and name='{name}'")
            task, name = None, task
        if task is None:
            if not name:
                raise GraphError("add_task needs a task name, a task instance or a task class")
            task = self.registry.get(name)
        if isinstance(task, type) and issubclass(task, Task):
            task_id = task_id or self._fresh_id(task.name or task.__name__)
            if task_id in self._tasks:
                raise GraphError(f"task id '{task_id}' is already used in workflow '{self.name}'")
            task = task(params, task_id=task_id)
        elif isinstance(task, Task):
            if task_id:
                task.id = task_id
            elif task.id in self._tasks:
                task.id = self._fresh_id(task.id)
            if task.id in self._tasks:
                raise GraphError(f"task id '{task.id}' is already used in workflow '{self.name}'")
            if params:
                task.set_parameters(params)
        else:
            raise GraphError(
                f"add_task takes a task name, a Task instance or a Task class, got {type(task).__name__}"
            )
        self._tasks[task.id] = task
        if auto_connect:
            try:
                self.auto_connect(task)
            except WorkflowError:
                self.remove_task(task)
                raise
        return task

    def _fresh_id(self, base: str) -> str:
        if base not in self._tasks:
            return base
        n = 1
        while f"{base}_{n}" in self._tasks:
            n += 1
        return f"{base}_{n}"

    def get_task(self, name_or_id: str) -> Task:
        """A task by id, or by task name when exactly one task has it."""
        if name_or_id in self._tasks:
            return self._tasks[name_or_id]
        matches = [t for t in self._tasks.values() if t.name == name_or_id]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise GraphError(
                f"several tasks are named '{name_or_id}' ({', '.join(t.id for t in matches)}): use the id"
            )
        raise GraphError(
            f"workflow '{self.name}' has no task '{name_or_id}'; tasks: {', '.join(self._tasks) or 'none'}"
        )

    def remove_task(self, task: Task | str) -> None:
        """Remove a task and every edge touching it."""
        tid = task.id if isinstance(task, Task) else self.get_task(task).id
        self._tasks.pop(tid, None)
        self._edges = [e for e in self._edges if tid not in (e.src, e.dst)]
        self._wired = {(e.dst, e.dst_port) for e in self._edges}
        self.outputs = {k: v for k, v in self.outputs.items() if v[0] != tid}

    def connect(
        self, src: Task | str | None, dst: Task | str, ports: dict[str | int, str | int] | None = None
    ) -> None:
        """Connect outputs of ``src`` (a task, or None / "$inputs" for workflow inputs) to inputs of ``dst``.

        ``ports`` maps source port -> destination port, each a name or an index in declaration
        order (``{0: 0}``); without it, every input of
        ``dst`` that a port of ``src`` can feed is connected (auto-connect restricted to ``src``).

        Raises:
            PortError: unknown port or incompatible types.
        """
        dst_task = dst if isinstance(dst, Task) else self.get_task(dst)
        src_id = (
            INPUTS if src in (None, INPUTS) else (src.id if isinstance(src, Task) else self.get_task(src).id)
        )
        if ports is None:
            self.auto_connect(dst_task, only_from=src_id)
            return
        for src_port, dst_port in ports.items():
            self._add_edge(
                Edge(
                    src_id,
                    self._source_port_name(src_id, src_port),
                    dst_task.id,
                    dst_task.input_port(dst_port).name,
                )
            )

    def _source_port_name(self, src: str, port: str | int) -> str:
        """The name of ``src``'s output ``port`` (a name or an index in declaration order)."""
        if src != INPUTS:
            return self.get_task(src).output_port(port).name
        names = list(self.inputs)
        if isinstance(port, int) and not isinstance(port, bool):
            if 0 <= port < len(names):
                return names[port]
            raise PortError(
                f"workflow '{self.name}' has no input {port}; inputs by index or name: "
                f"{', '.join(f'{i} {n!r}' for i, n in enumerate(names)) or 'none'}"
            )
        return port

    def _source_type(self, src: str, port: str) -> type[DataType]:
        if src == INPUTS:
            if port not in self.inputs:
                raise PortError(
                    f"workflow '{self.name}' has no input '{port}'; inputs: {', '.join(self.inputs) or 'none'}"
                )
            return self.inputs[port]
        return self.get_task(src).output_port(port).type

    def _add_edge(self, edge: Edge) -> None:
        self._check_edge(edge)
        key = (edge.dst, edge.dst_port)
        if key in self._wired:  # an input gets a new source (rare): drop the old edge
            self._edges = [e for e in self._edges if (e.dst, e.dst_port) != key]
        self._wired.add(key)
        self._edges.append(edge)

    def auto_connect(self, task: Task, only_from: str | None = None) -> None:
        """Wire each unconnected input of ``task`` to the most recent compatible output, else a workflow
        input.

        Raises:
            PortError: a required input has nothing compatible (names the types on offer).
        """
        wired = {e.dst_port for e in self._edges if e.dst == task.id}
        used: set[tuple[str, str]] = {(e.src, e.src_port) for e in self._edges if e.dst == task.id}
        earlier = [t for t in self._tasks.values() if t is not task][::-1]  # most recent first
        for port in task.inputs:
            if port.name in wired:
                continue
            offers = [(t.id, p.name, p.type) for t in earlier for p in t.outputs]
            offers += [(INPUTS, n, ty) for n, ty in self.inputs.items()]
            if only_from is not None:
                offers = [o for o in offers if o[0] == only_from]
            match = next(
                ((s, n) for s, n, ty in offers if port.type.accepts(ty) and (s, n) not in used), None
            )
            if match is None:
                if port.optional:
                    continue
                on_offer = (
                    ", ".join(f"{Edge(s, n, '', '').ref()} ({ty.label})" for s, n, ty in offers) or "nothing"
                )
                raise PortError(
                    f"task '{task.id}': required input '{port.name}' ({port.type.label}) has no compatible "
                    f"output to connect to; on offer: {on_offer}"
                )
            self._add_edge(Edge(match[0], match[1], task.id, port.name))
            used.add(match)

    def add_output(self, name: str, task: Task | str, port: str | int) -> None:
        """Expose ``task``'s output ``port`` (name or index) as the workflow output ``name``."""
        t = task if isinstance(task, Task) else self.get_task(task)
        self.outputs[name] = (t.id, t.output_port(port).name)

    # -- checking -----------------------------------------------------------
    def order(self) -> list[Task]:
        """Tasks in topological order (ties keep insertion order); O((tasks + edges) log tasks).

        Raises:
            GraphError: the graph has a cycle (names the tasks on it).
        """
        ids = list(self._tasks)
        rank = {tid: i for i, tid in enumerate(ids)}
        after: dict[str, set[str]] = {tid: set() for tid in ids}
        waiting = dict.fromkeys(ids, 0)
        for e in self._edges:
            if e.src in after and e.dst in waiting and e.dst not in after[e.src]:
                after[e.src].add(e.dst)
                waiting[e.dst] += 1
        ready = [rank[t] for t, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        done: list[str] = []
        while ready:  # among ready tasks, the earliest added first
            tid = ids[heapq.heappop(ready)]
            done.append(tid)
            for nxt in after[tid]:
                waiting[nxt] -= 1
                if not waiting[nxt]:
                    heapq.heappush(ready, rank[nxt])
        if len(done) < len(ids):
            raise GraphError(
                f"workflow '{self.name}' has a cycle: {' -> '.join(self._cycle(after, set(done)))}"
            )
        return [self._tasks[t] for t in done]

    @staticmethod
    def _cycle(after: dict[str, set[str]], done: set[str]) -> list[str]:
        """One cycle among the tasks the order left out: each has a predecessor left out, so walking back
        loops."""
        before: dict[str, str] = {}
        for src, dsts in after.items():
            if src not in done:
                for dst in dsts:
                    if dst not in done:
                        before.setdefault(dst, src)
        node, seen = next(iter(before)), {}
        while node not in seen:
            seen[node] = len(seen)
            node = before[node]
        loop = list(seen)[seen[node] :][::-1]
        return loop + [loop[0]]

    def validate(self) -> None:
        """Check cycles, edge types and that every required input is connected."""
        for e in self._edges:
            self._check_edge(e)
        self.order()
        wired_ports: dict[str, set[str]] = {}
        for e in self._edges:
            wired_ports.setdefault(e.dst, set()).add(e.dst_port)
        for task in self._tasks.values():
            wired = wired_ports.get(task.id, set())
            for port in task.inputs:
                if not port.optional and port.name not in wired:
                    raise GraphError(
                        f"task '{task.id}': required input '{port.name}' ({port.type.label}) is not connected"
                    )
        for tid, port in self.outputs.values():
            self.get_task(tid).output_port(port)

    def _check_edge(self, e: Edge) -> None:
        if e.src != INPUTS and e.src not in self._tasks:
            raise GraphError(f"task '{e.dst}': input '{e.dst_port}' refers to unknown task '{e.src}'")
        src_type = self._source_type(e.src, e.src_port)
        dst_port = self.get_task(e.dst).input_port(e.dst_port)
        if not dst_port.type.accepts(src_type):
            raise PortError(
                f"task '{e.dst}': input '{e.dst_port}' ({dst_port.type.label}) cannot take {e.ref()} ({src_type.label})"
            )

    def per_item_tasks(self) -> set[str]:
        """Ids of tasks that depend (transitively) on a workflow input; the others run once per run."""
        sources: dict[str, list[str]] = {}
        for e in self._edges:
            sources.setdefault(e.dst, []).append(e.src)
        dynamic: set[str] = set()
        for task in self.order():
            if any(src == INPUTS or src in dynamic for src in sources.get(task.id, ())):
                dynamic.add(task.id)
        return dynamic

    def output_names(self) -> dict[str, tuple[str, str]]:
        """Declared outputs, or by default every output of the tasks nothing else consumes."""
        if self.outputs:
            return dict(self.outputs)
        consumed = {e.src for e in self._edges}
        sinks = [t for t in self._tasks.values() if t.id not in consumed]
        return {
            f"{t.id}.{p.name}" if len(sinks) > 1 else p.name: (t.id, p.name) for t in sinks for p in t.outputs
        }

"""Workflow files exported by Ikomia (IkomiaCore's ``CWorkflow::saveJSON``) -> a version-1 pipeline document.

What is read: ``metadata.name``; each ``tasks[].task_id`` and ``task_data.name`` / ``parameters``
(``[{"name", "value"}]``, values as strings); ``connections`` by port index (``source_id`` -1 is
Ikomia's root: the workflow's inputs); ``exposed_outputs`` (the workflow's outputs). Left aside as
Ikomia's own loader does: ``api``, ``hardware_config``, each task's ``inputs`` / ``outputs`` type names,
``language`` and ``url``; ``exposed_parameters`` too (the tasks keep the parameter values).

Ports are matched by index in each task's declaration order; the root's output ``i`` becomes a
workflow input named after the type of the port it feeds (``image``, else that type's label, with
``_<i>`` when two root outputs would share a name). Every task's inputs are written explicitly (no
auto-connect), as the file says. Whatever cannot be mapped (an unknown task, a port index out of
range, a malformed entry) is a problem located in the file; parameters are checked by the later
stages, through each task's parameter aliases (Ikomia's names).
"""

from __future__ import annotations

import re
from typing import Any

from workflow.core.errors import WorkflowError
from workflow.core.files import is_safe_name
from workflow.core.ports import Image
from workflow.core.task import Task
from workflow.pipeline.schema import FORMAT_VERSION, Locator, Problem
from workflow.plugins.registry import Registry

ROOT_ID = -1
_SCALARS = (str, int, float, bool)
_Entry = tuple[str, type[Task], dict[str, Any]]  # a task of the file: (step id, task class, params)


def is_ikomia_document(data: dict[str, Any]) -> bool:
    """Whether a JSON document is Ikomia's workflow format (no ``version``; ``connections``, ``metadata`` or
    tasks holding ``task_data``)."""
    if "version" in data:
        return False
    tasks = data.get("tasks")
    in_tasks = isinstance(tasks, list) and any(isinstance(t, dict) and "task_data" in t for t in tasks)
    return in_tasks or "connections" in data or "metadata" in data


def from_ikomia(
    data: dict[str, Any], locator: Locator, registry: Registry
) -> tuple[dict[str, Any] | None, Locator, list[Problem]]:
    """The version-1 document of an Ikomia workflow file, and a locator that places its paths on the file's
    lines; or the problems found (located in the Ikomia file)."""
    reader = _Reader(data, locator, registry)
    doc = reader.read()
    if reader.problems:
        return None, locator, reader.problems
    return doc, reader.target_locator(doc), []


class _Reader:
    def __init__(self, data: dict[str, Any], locator: Locator, registry: Registry):
        self.data, self.locator, self.registry = data, locator, registry
        self.problems: list[Problem] = []
        self.lines: dict[tuple, tuple] = {}  # path in the version-1 document -> path in the Ikomia file

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(self.locator.problem(path, message))

    def read(self) -> dict[str, Any]:
        name = self.workflow_name()
        tasks = self.read_tasks()
        if self.problems:
            return {}
        inputs, task_inputs = self.read_connections(tasks)
        outputs = self.read_exposed_outputs(tasks)
        return {
            "version": FORMAT_VERSION,
            "name": name,
            "inputs": {n: {"type": t.label} for _, (n, t) in sorted(inputs.items())},
            "tasks": [
                {"id": our_id, "task": cls.name, "params": params, "inputs": task_inputs.get(tid, {})}
                for tid, (our_id, cls, params) in tasks.items()
            ],
            "outputs": outputs,
        }

    def workflow_name(self) -> str:
        meta = self.data.get("metadata", {})
        if not isinstance(meta, dict):
            self.problem(("metadata",), f"expected an object with 'name', got {type(meta).__name__}")
            return "workflow"
        name = meta.get("name", "workflow")
        if not is_safe_name(name):
            self.problem(
                ("metadata", "name"),
                f"workflow name {name!r} cannot name an output folder (no '/', no leading '.', '-', '~')",
            )
        self.lines[("name",)] = ("metadata", "name")
        return name

    def read_tasks(self) -> dict[int, _Entry]:
        """``{task_id: (our id, task class, params)}`` in file order."""
        tasks = self.data.get("tasks")
        if not isinstance(tasks, list):
            self.problem(("tasks",), f"expected a list of tasks, got {type(tasks).__name__}")
            return {}
        out: dict[int, _Entry] = {}
        used: set[str] = set()
        for k, entry in enumerate(tasks):
            where = ("tasks", k)
            task_data = entry.get("task_data") if isinstance(entry, dict) else None
            if not isinstance(task_data, dict) or not isinstance(task_data.get("name"), str):
                self.problem(
                    where, "expected an object with 'task_id' and 'task_data' holding the task's 'name'"
                )
                continue
            name = task_data["name"]
            task_id = entry.get("task_id", k)
            if not isinstance(task_id, int) or isinstance(task_id, bool) or task_id in out:
                self.problem(where + ("task_id",), f"expected a task id number used once, got {task_id!r}")
                continue
            try:
                cls = self.registry.get(name)
            except WorkflowError as exc:
                self.problem(
                    where + ("task_data", "name"), f"Ikomia task '{name}' cannot be created here: {exc}"
                )
                continue
            params = self.read_params(where + ("task_data", "parameters"), task_data.get("parameters", []))
            our_id = _task_id(name, used)
            used.add(our_id)
            i = len(out)
            self.lines[("tasks", i)] = where
            self.lines[("tasks", i, "task")] = where + ("task_data", "name")
            for key, index in params.items():
                self.lines[("tasks", i, "params", key)] = where + ("task_data", "parameters", index)
            out[task_id] = (our_id, cls, {key: value for key, (value, _) in params.items()})
        return out

    def read_params(self, where: tuple, entries: Any) -> dict[str, tuple[Any, int]]:
        """``{name: (value, index of the entry)}``."""
        if not isinstance(entries, list):
            self.problem(
                where, f"expected a list of {{'name', 'value'}} objects, got {type(entries).__name__}"
            )
            return {}
        params: dict[str, tuple[Any, int]] = {}
        for j, entry in enumerate(entries):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("name"), str)
                or not isinstance(entry.get("value"), _SCALARS)
            ):
                self.problem(where + (j,), "expected {'name': <text>, 'value': <text>}")
                continue
            if entry["name"] in params:
                self.problem(where + (j, "name"), f"parameter '{entry['name']}' is given twice")
                continue
            params[entry["name"]] = (entry["value"], j)
        return params

    def read_connections(
        self, tasks: dict[int, _Entry]
    ) -> tuple[dict[int, tuple[str, Any]], dict[int, dict[str, str]]]:
        """The workflow inputs (``{root index: (name, type)}``) and each task's input references."""
        connections = self.data.get("connections", [])
        if not isinstance(connections, list):
            self.problem(("connections",), f"expected a list, got {type(connections).__name__}")
            return {}, {}
        inputs: dict[int, tuple[str, Any]] = {}
        refs: dict[int, dict[str, str]] = {}
        position = {tid: i for i, tid in enumerate(tasks)}
        for j, conn in enumerate(connections):
            where = ("connections", j)
            ends = _ends(conn)
            if ends is None:
                self.problem(
                    where, "expected integer 'source_id', 'source_index', 'target_id' and 'target_index'"
                )
                continue
            src, src_index, dst, dst_index = ends
            if dst not in tasks:
                self.problem(where + ("target_id",), f"no task with task_id {dst}")
                continue
            dst_id, dst_cls, _ = tasks[dst]
            if not 0 <= dst_index < len(dst_cls.inputs):
                self.problem(where + ("target_index",), _no_port(dst_id, dst_cls.inputs, dst_index, "input"))
                continue
            port = dst_cls.inputs[dst_index]
            if src == ROOT_ID:
                if src_index < 0:
                    self.problem(where + ("source_index",), f"no root output {src_index}")
                    continue
                if src_index not in inputs:
                    dtype = Image if port.type.accepts(Image) else port.type
                    base = "image" if dtype is Image else dtype.label
                    taken = {n for n, _ in inputs.values()}
                    inputs[src_index] = (base if base not in taken else f"{base}_{src_index}", dtype)
                ref = f"$inputs.{inputs[src_index][0]}"
            elif src in tasks:
                src_id, src_cls, _ = tasks[src]
                if not 0 <= src_index < len(src_cls.outputs):
                    self.problem(
                        where + ("source_index",), _no_port(src_id, src_cls.outputs, src_index, "output")
                    )
                    continue
                ref = f"$steps.{src_id}.{src_cls.outputs[src_index].name}"
            else:
                self.problem(where + ("source_id",), f"no task with task_id {src} (the root is -1)")
                continue
            task_refs = refs.setdefault(dst, {})
            if port.name in task_refs:
                self.problem(where, f"task '{dst_id}': input {dst_index} '{port.name}' is connected twice")
                continue
            task_refs[port.name] = ref
            self.lines[("tasks", position[dst], "inputs", port.name)] = where
        return inputs, refs

    def read_exposed_outputs(self, tasks: dict[int, _Entry]) -> dict[str, str]:
        """The workflow outputs, ``{"<task id>.<port>": ref}``."""
        exposed = self.data.get("exposed_outputs", [])
        if not isinstance(exposed, list):
            self.problem(("exposed_outputs",), f"expected a list, got {type(exposed).__name__}")
            return {}
        outputs: dict[str, str] = {}
        for j, entry in enumerate(exposed):
            where = ("exposed_outputs", j)
            tid = entry.get("task_id") if isinstance(entry, dict) else None
            index = entry.get("task_output_index") if isinstance(entry, dict) else None
            if isinstance(tid, str) and tid.lstrip("-").isdigit():
                tid = int(tid)
            if not isinstance(tid, int) or not isinstance(index, int) or tid not in tasks:
                self.problem(where, "expected a known 'task_id' and an integer 'task_output_index'")
                continue
            our_id, cls, _ = tasks[tid]
            if not 0 <= index < len(cls.outputs):
                self.problem(where + ("task_output_index",), _no_port(our_id, cls.outputs, index, "output"))
                continue
            port = cls.outputs[index].name
            outputs[f"{our_id}.{port}"] = f"$steps.{our_id}.{port}"
            self.lines[("outputs", f"{our_id}.{port}")] = where
        return outputs

    def target_locator(self, doc: dict[str, Any]) -> Locator:
        """A locator over the version-1 document whose lines are those of the Ikomia file."""
        located = Locator(self.locator.file, doc)
        located.lines[()] = self.locator.line(()) or 1
        for path, source_path in self.lines.items():
            line = self.locator.line(source_path)
            if line is not None:
                located.lines[path] = line
        return located


def _task_id(name: str, used: set[str]) -> str:
    """A step id from an Ikomia task name (letters, digits, ``_``, ``-``), unique among ``used``."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "task"
    if not re.match(r"[A-Za-z_]", base):
        base = f"t_{base}"
    tid, n = base, 1
    while tid in used:
        tid, n = f"{base}_{n}", n + 1
    return tid


def _ends(conn: Any) -> tuple[int, int, int, int] | None:
    keys = ("source_id", "source_index", "target_id", "target_index")
    if not isinstance(conn, dict):
        return None
    values = [conn.get(k) for k in keys]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return values[0], values[1], values[2], values[3]


def _no_port(task_id: str, ports: tuple, index: int, kind: str) -> str:
    shown = ", ".join(f"{i} '{p.name}'" for i, p in enumerate(ports)) or "none"
    return f"task '{task_id}' has no {kind} {index}; {kind}s by index: {shown}"

"""Pipeline files (YAML or JSON, and Ikomia's exported JSON) <-> a :class:`~workflow.graph.graph.Graph` (or a
subclass given), with staged validation.

Stages, all before any model is built (tasks are constructed, and must load
models lazily): 1) syntax (YAML's safe loader, or JSON, by the file's suffix),
1b) an Ikomia workflow file mapped to the same document (:mod:`._ikomia`), 2) schema,
3) task names, 4) params, 5) references, 6) port types and auto-connect, 7) cycles and
unconnected inputs. Each problem is one line naming the file, line, task id and
field; :func:`load_workflow` raises a :class:`PipelineError` for the first
stage that finds any (``err.problems`` lists them all).

Saving writes every edge as an explicit reference and only the params that
differ from their defaults, so ``load(save(wf))`` rebuilds the same graph.
"""

from __future__ import annotations

import graphlib
import os
import re
from pathlib import Path
from typing import Any, TypeVar

from workflow.core.errors import ParamError, PipelineError, WorkflowError
from workflow.core.files import FileReadError, read_regular_file
from workflow.core.params import describe_params
from workflow.core.ports import resolve_data_type
from workflow.core.task import Task
from workflow.graph.graph import INPUTS, Graph
from workflow.pipeline._ikomia import from_ikomia, is_ikomia_document
from workflow.pipeline._parse import file_format, parse_text
from workflow.pipeline._paths import missing_paths, resolve_paths
from workflow.pipeline.save import dump_workflow, save_workflow
from workflow.pipeline.schema import (
    Locator,
    PipelineSpec,
    Problem,
    TaskSpec,
    check_schema,
    one_line,
    pipeline_error,
    pipeline_json_schema,
    suggest,
)
from workflow.plugins.registry import Registry, default_registry

__all__ = [
    "load_workflow",
    "loads_workflow",
    "save_workflow",
    "dump_workflow",
    "validate_file",
    "pipeline_json_schema",
    "Problem",
    "PipelineError",
]

G = TypeVar("G", bound=Graph)
_REF = re.compile(r"^\$(?:inputs\.(?P<input>[^.]+)|steps\.(?P<step>[^.]+)\.(?P<port>[^.]+))$")
_REF_HELP = "expected '$inputs.<name>' or '$steps.<id>.<port>'"
MAX_PIPELINE_BYTES = 8 << 20


def load_workflow(
    path: str | os.PathLike,
    registry: Registry | None = None,
    graph_cls: type[G] = Graph,
    check_paths: bool = False,
) -> G:
    """Build a ``graph_cls`` (e.g. :class:`workflow.Workflow`) from a pipeline file, after every check
    (``check_paths``: also that every path parameter that must exist does).

    ``.json`` files are JSON (our format, or a workflow exported by Ikomia), ``.yaml``/``.yml`` YAML.
    Relative path parameters are read from the file's folder (:mod:`workflow.pipeline._paths`).

    Raises:
        PipelineError: the first problem found, as ``<file>:<line>: task '<id>': <field>: <message>``;
            a file of another suffix.
    """
    wf, problems = _load(path, registry, graph_cls, check_paths)
    if problems:
        raise pipeline_error(problems)
    return wf


def loads_workflow(
    text: str,
    registry: Registry | None = None,
    source: str = "<string>",
    graph_cls: type[G] = Graph,
    fmt: str = "yaml",
) -> G:
    """Like :func:`load_workflow`, from YAML (or, with ``fmt="json"``, JSON) text; ``source`` names it in
    messages."""
    wf, problems = _build(text, source, registry or default_registry(), graph_cls, fmt=fmt)
    if problems:
        raise pipeline_error(problems)
    return wf


def validate_file(path: str | os.PathLike, registry: Registry | None = None) -> list[Problem]:
    """Every problem of the first failing stage, missing input paths included (empty when valid); loads no
    model."""
    return _load(path, registry, check_paths=True)[1]


def _load(
    path: str | os.PathLike, registry: Registry | None, graph_cls: type[G] = Graph, check_paths: bool = False
) -> tuple[G | None, list[Problem]]:
    try:
        text = read_regular_file(path, MAX_PIPELINE_BYTES, "pipeline file").decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), None, "", f"cannot read the pipeline file: {exc}")]
    except FileReadError as exc:  # missing, a FIFO or device, too large
        return None, [Problem(str(path), None, "", f"cannot read the pipeline file: {exc.reason}")]
    try:
        fmt = file_format(path)
    except PipelineError as exc:  # a problem like any other: validate_file lists it
        return None, [Problem(str(path), None, "", str(exc).removeprefix(f"{path}: "))]
    return _build(
        text,
        str(path),
        registry or default_registry(),
        graph_cls,
        Path(path).resolve().parent,
        check_paths,
        fmt,
    )


def _build(
    text: str,
    source: str,
    registry: Registry,
    graph_cls: type[G],
    base_dir: Path | None = None,
    check_paths: bool = False,
    fmt: str = "yaml",
) -> tuple[G | None, list[Problem]]:
    if fmt not in ("yaml", "json"):
        raise ValueError(f"fmt {fmt!r}: expected 'yaml' or 'json'")
    data, locator, problems = parse_text(text, source, fmt)
    if problems:
        return None, problems
    if fmt == "json" and is_ikomia_document(data):
        data, locator, problems = from_ikomia(data, locator, registry)
        if problems:
            return None, problems
    spec, problems = check_schema(data, locator)
    if problems:
        return None, problems
    builder = _Builder(spec, locator, registry, graph_cls, base_dir)
    for stage in (
        builder.resolve_classes,
        builder.construct_tasks,
        builder.check_references,
        builder.assemble,
        builder.check_graph,
    ) + ((builder.check_paths,) if check_paths else ()):
        problems = stage()
        if problems:
            return None, problems
    return builder.workflow, []


class _Builder:
    """Stages 3-7, each returning its problems; later stages use what earlier ones built."""

    def __init__(
        self,
        spec: PipelineSpec,
        locator: Locator,
        registry: Registry,
        graph_cls: type[Graph],
        base_dir: Path | None,
    ):
        self.spec, self.locator, self.registry, self.graph_cls = spec, locator, registry, graph_cls
        self.base_dir = base_dir  # relative path parameters are read from here (None: the working directory)
        self.classes: list[type[Task]] = []
        self.instances: list[Task] = []
        self.edges: list[
            tuple[int, str, str, str]
        ] = []  # (task index, source id or INPUTS, source port, input port)
        self.outputs: list[tuple[str, str, str]] = []
        self.workflow: Graph | None = None

    def problem(self, path: tuple, message: str) -> Problem:
        return self.locator.problem(path, message)

    # -- stages 3 and 4: task classes and params -------------------------------
    def resolve_classes(self) -> list[Problem]:
        problems = []
        for i, task in enumerate(self.spec.tasks):
            try:
                self.classes.append(self.registry.get(task.task))
            except WorkflowError as exc:
                problems.append(self.problem(("tasks", i, "task"), str(exc)))
        return problems

    def construct_tasks(self) -> list[Problem]:
        problems = []
        for i, (task, cls) in enumerate(zip(self.spec.tasks, self.classes)):
            try:
                self.instances.append(
                    cls(resolve_paths(cls.Params, task.params, self.base_dir), task_id=task.id)
                )
            except ParamError as exc:
                key = _param_key(str(exc), task, cls)
                path = ("tasks", i, "params") + ((key,) if key is not None else ())
                problems.append(self.problem(path, _strip_task(exc)))
            except Exception as exc:  # a plugin's constructor is outside our control: report it, located
                problems.append(
                    self.problem(
                        ("tasks", i, "task"),
                        f"task '{task.task}' could not be created: "
                        f"{type(exc).__name__}: {one_line(str(exc))}",
                    )
                )
        return problems

    def check_paths(self) -> list[Problem]:
        """Every path parameter that must exist and does not (``workflow validate`` / ``run``)."""
        return [
            self.problem(
                ("tasks", i, "params", _param_key(f"parameter '{name}'", spec, type(task)) or name), msg
            )
            for i, (spec, task) in enumerate(zip(self.spec.tasks, self.instances))
            for name, msg in missing_paths(task.params)
        ]

    # -- stage 5: references ----------------------------------------------------
    def check_references(self) -> list[Problem]:
        problems = []
        by_id = {t.id: cls for t, cls in zip(self.spec.tasks, self.classes)}
        for i, (task, cls) in enumerate(zip(self.spec.tasks, self.classes)):
            for port, ref in (task.inputs or {}).items():
                try:
                    cls.input_port(port)
                    src, src_port = self._resolve_ref(ref, by_id)
                except WorkflowError as exc:
                    problems.append(self.problem(("tasks", i, "inputs", port), str(exc)))
                    continue
                self.edges.append((i, src, src_port, port))
        for name, ref in self.spec.outputs.items():
            try:
                src, src_port = self._resolve_ref(ref, by_id)
                if src == INPUTS:
                    raise PipelineError(
                        f"outputs must name a step output ('$steps.<id>.<port>'), not '{ref}'"
                    )
            except WorkflowError as exc:
                problems.append(self.problem(("outputs", name), str(exc)))
                continue
            self.outputs.append((name, src, src_port))
        return problems

    def _resolve_ref(self, ref: str, by_id: dict[str, type[Task]]) -> tuple[str, str]:
        match = _REF.match(ref)
        if not match:
            raise PipelineError(f"malformed reference '{ref}'; {_REF_HELP}")
        if match["input"] is not None:
            name, declared = match["input"], list(self.spec.inputs)
            if name not in declared:
                raise PipelineError(
                    f"unknown workflow input '{name}' in '{ref}'{suggest(name, declared)}; "
                    f"declared inputs: {', '.join(declared) or 'none'}"
                )
            return INPUTS, name
        step, port = match["step"], match["port"]
        if step not in by_id:
            raise PipelineError(
                f"unknown step '{step}' in '{ref}'{suggest(step, list(by_id))}; steps: {', '.join(by_id)}"
            )
        by_id[step].output_port(port)
        return step, port

    # -- stages 6 and 7: the graph ----------------------------------------------
    def assemble(self) -> list[Problem]:
        spec = self.spec
        inputs = {name: resolve_data_type(s.type) for name, s in spec.inputs.items()}
        wf = self.workflow = self.graph_cls(name=spec.name, inputs=inputs, registry=self.registry)
        for i, (task, instance) in enumerate(zip(spec.tasks, self.instances)):
            wf.add_task(instance)
            if task.inputs is None:  # auto-connect sees the steps above this one only
                try:
                    wf.auto_connect(instance)
                except WorkflowError as exc:
                    return [self.problem(("tasks", i, "inputs"), f"auto-connect: {_strip_task(exc)}")]
        for i, src, src_port, port in self.edges:
            try:
                wf.connect(None if src == INPUTS else src, spec.tasks[i].id, {src_port: port})
            except WorkflowError as exc:
                return [self.problem(("tasks", i, "inputs", port), _strip_task(exc))]
        for name, src, src_port in self.outputs:
            wf.add_output(name, src, src_port)
        return []

    def check_graph(self) -> list[Problem]:
        wf, tasks = self.workflow, self.spec.tasks
        index = {t.id: i for i, t in enumerate(tasks)}
        edges = wf.edges
        sources: dict[str, set[str]] = {t.id: set() for t in tasks}
        wired_ports: dict[str, set[str]] = {t.id: set() for t in tasks}
        for e in edges:
            wired_ports.setdefault(e.dst, set()).add(e.dst_port)
            if e.src != INPUTS:
                sources.setdefault(e.dst, set()).add(e.src)
        try:
            graphlib.TopologicalSorter(sources).prepare()
        except graphlib.CycleError as exc:
            cycle = exc.args[1]  # each id feeds the next one
            port = next(e.dst_port for e in edges if e.src == cycle[0] and e.dst == cycle[1])
            return [self.problem(("tasks", index[cycle[1]], "inputs", port), f"cycle: {' -> '.join(cycle)}")]
        for i, task in enumerate(self.instances):
            missing = [
                p for p in task.inputs if not p.optional and p.name not in wired_ports.get(task.id, ())
            ]
            if missing:
                port = missing[0]
                return [
                    self.problem(
                        ("tasks", i, "inputs"),
                        f"required input '{port.name}' ({port.type.label}) is not "
                        f"connected; add '{port.name}: $steps.<id>.<port>' or '$inputs.<name>'",
                    )
                ]
        try:
            wf.validate()
        except WorkflowError as exc:
            return [Problem(self.locator.file, None, "graph", str(exc))]
        return []


def _param_key(message: str, task: TaskSpec, cls: type[Task]) -> Any:
    """The key in the file's params that a ParamError message is about (field name or alias)."""
    found = re.search(r"parameter '([^']*)'", message)
    if not found:
        return None
    name = found.group(1)
    aliases = {row["name"]: row["aliases"] for row in describe_params(cls.Params)}.get(name, [])
    return next((key for key in task.params if str(key) == name or str(key) in aliases), None)


def _strip_task(exc: Exception) -> str:
    return re.sub(r"^task '[^']*': ", "", str(exc))

"""The facade users script against: a :class:`~workflow.graph.graph.Graph` plus methods that run it, load and
save it, and Ikomia's Workflow methods (``root``, ``get_tasks``, ``find_task``, ``connect_tasks``, ...).

Every method delegates down: the graph layer builds and checks, :mod:`workflow.graph.executor`
runs batches, :mod:`workflow.run.runner` runs on sources, :mod:`workflow.pipeline` reads and
writes pipeline files (``.json`` or ``.yaml``, and Ikomia's exported JSON).

Ikomia's semantics followed (IkomiaApi ``ikomia/dataprocess/workflow.py``): ``find_task(name)`` gives
the list of tasks of that name, ``find_task(name, i)`` one; ``get_tasks()`` starts with the root, the
pseudo task standing for the workflow's inputs; ``set_image_input`` / ``set_directory_input`` then
``run()``; a folder run with no output folder writes into a new ``<output_folder>/<time>/`` run folder
(``output_folder`` defaults to ``runs/<name>`` in the working folder, where Ikomia uses
``~/Ikomia/Workflows/<name>``); ``get_time_metrics()`` in milliseconds, keyed by task name.
"""

from __future__ import annotations

import logging
import os
import time
import types
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from workflow.core.errors import GraphError, InputError, PortError
from workflow.core.files import is_safe_name
from workflow.core.ports import DataType, Image, resolve_data_type
from workflow.core.task import Task
from workflow.graph.executor import ItemResult, execute, prepare_tasks, run_static
from workflow.graph.graph import INPUTS, Edge, Graph
from workflow.plugins.registry import Registry
from workflow.run.report import RunReport

__all__ = ["Workflow", "Root", "Edge", "INPUTS", "ItemResult"]
log = logging.getLogger(__name__)
_SOURCES = ("path", "array", "url", "folder", "video")


class Root:
    """Ikomia's root node: the pseudo task standing for the workflow's inputs.

    ``wf.root()`` comes first in ``wf.get_tasks()`` and may be the source of ``wf.connect_tasks``;
    its outputs, by index, are the workflow's inputs in declaration order.
    """

    name = "root"
    id = INPUTS

    def __init__(self, wf: Workflow):
        self._wf = wf

    @property
    def inputs(self) -> dict[str, type[DataType]]:
        """The workflow's inputs ``{name: data type}``: what this node hands to the tasks."""
        return dict(self._wf.inputs)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n} ({t.label})" for n, t in self._wf.inputs.items()) or "none"
        return f"Root(inputs: {shown})"


class _ClassOrInstanceMethod:
    """A method with two bodies: one when called on the class, one when called on an instance."""

    def __init__(self, on_class: Callable[..., Any], on_instance: Callable[..., Any]):
        self.on_class, self.on_instance = on_class, on_instance
        self.__doc__ = on_class.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Callable[..., Any]:
        if obj is None:
            return types.MethodType(self.on_class, owner)
        return types.MethodType(self.on_instance, obj)


def _load_new(cls: type[Workflow], path: str | os.PathLike, registry: Registry | None = None) -> Workflow:
    """Build a workflow from a pipeline file, validated before any model is built.

    ``Workflow.load(path)`` makes a new workflow; ``wf.load(path)`` adds the file's tasks, inputs and
    outputs to ``wf`` and takes the file's name, as Ikomia's ``load`` does (ids already used get a
    suffix). ``.json`` files are JSON (ours, or a workflow exported by Ikomia), ``.yaml``/``.yml`` YAML.

    Raises:
        PipelineError: the first problem of the file, one line naming the file, line, task and field.
        GraphError: (into a workflow) an input or output of the file clashes with one of the workflow's.
    """
    from workflow.pipeline.build import load_workflow  # on use: `import workflow` stays light (no YAML)

    return load_workflow(path, registry=registry, graph_cls=cls)


def _load_into(wf: Workflow, path: str | os.PathLike, registry: Registry | None = None) -> Workflow:
    """Add the tasks, inputs and outputs of a pipeline file to this workflow, which takes the file's name
    (Ikomia's ``wf.load(path)``); returns the workflow. See :meth:`Workflow.load`."""
    wf.merge(_load_new(type(wf), path, registry or wf.registry), source=str(path))
    return wf


class Workflow(Graph):
    """A graph of tasks run in topological order.

    Args:
        name: shown in logs and saved pipelines (Ikomia's first argument).
        inputs: workflow inputs as ``{name: data type or its label}``; default ``{"image": Image}``.
        registry: where task names are looked up (default: the process-wide registry).
    """

    def __init__(
        self, name: str = "workflow", inputs: dict[str, Any] | None = None, registry: Registry | None = None
    ):
        super().__init__(name, inputs, registry)
        self._times: dict[str, float] = {}
        self._elapsed = 0.0
        self._last_outputs: dict[str, Any] = {}
        self._root = Root(self)
        self._given: dict[str, tuple[str, Any]] = {}  # workflow input -> (source kind, value), set_*_input
        self._folder: tuple[str, str | None] | None = None  # set_directory_input: (folder, input or None)
        self._output_folder: str | None = None
        self._last_run_folder: Path | None = None

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, {len(self.tasks)} task(s))"

    # -- running -------------------------------------------------------------------------------------
    def add_task(
        self,
        task: Task | type[Task] | str | None = None,
        *,
        public_hub: bool = True,
        private_hub: bool = False,
        **options: Any,
    ) -> Task:
        """Add a task (``options`` as :meth:`Graph.add_task`). ``public_hub`` / ``private_hub`` are Ikomia's and
        are accepted for its scripts: tasks come from the installed plugins, never from a hub."""
        return super().add_task(task, **options)

    def run(self, **inputs: Any) -> dict[str, Any]:
        """Run once and return the workflow outputs; errors propagate.

        With keyword inputs (ours: ``wf.run(image=array)``), on those. Without (Ikomia's ``run()``), on the
        inputs given by :meth:`set_image_input` / :meth:`set_directory_input` (a folder runs as
        :meth:`run_on` ``folder=`` does), or on nothing when none was given.
        """
        if inputs:
            return self.run_items([inputs], raise_errors=True)[0].outputs
        if self._folder is not None:
            folder, name = self._folder
            return self.run_on(folder=folder, input=name, extra_inputs=self._given_values()).outputs
        images = [n for n in self._given if n in self.inputs]
        if images:
            kind, value = self._given[images[0]]
            report = self.run_on(**{kind: value}, input=images[0], extra_inputs=self._given_values(images[0]))
            return report.outputs
        return self.run_items([{}], raise_errors=True)[0].outputs

    def run_items(
        self,
        items: list[dict[str, Any]],
        raise_errors: bool = False,
        static_cache: dict[str, dict[str, Any]] | None = None,
    ) -> list[ItemResult]:
        """Run a batch of items (each a dict of workflow inputs) through the graph.

        Tasks that do not depend on the inputs run once; the others see the whole
        batch through :meth:`Task.run_batch`. A failing batch is retried item by item
        so one bad item is reported (``ItemResult.error``) and the others carry on;
        a :class:`~workflow.core.errors.SetupError` always propagates.

        Args:
            raise_errors: raise the first error instead of recording it per item.
            static_cache: a dict kept by the caller across calls (e.g. the batches of one
                run): static tasks whose outputs it already holds are not run again, and
                the per-item tasks are prepared only when it starts empty.
        """
        start = time.perf_counter()
        self._times = {}
        try:
            cache = static_cache if static_cache is not None else {}
            if not cache:
                run_static(self, cache, self._times)
                prepare_tasks(self, cache, self._constant_inputs(items))
            results = execute(self, items, raise_errors, cache, self._times)
        finally:
            self._elapsed = time.perf_counter() - start
        self._last_outputs = results[-1].outputs if results else {}
        return results

    def _constant_inputs(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Non-image workflow inputs that hold the same object in every item (what prepare() may rely on)."""
        if not items:
            return {}
        first = items[0]
        return {
            k: v
            for k, v in first.items()
            if k in self.inputs
            and not issubclass(self.inputs[k], Image)
            and all(it.get(k) is v for it in items)
        }

    def run_on(self, engine: str = "local", **source: Any) -> RunReport:
        """Run on one source: ``path=``, ``array=``, ``folder=``, ``video=`` or ``url=`` (see
        :func:`workflow.run.runner.run_on`); Ikomia's empty strings count as not given.

        A folder goes to the tasks image by image, or, when no task takes an image from the workflow's
        inputs and one takes a folder (a dataset input, e.g. training), as the folder itself, once; a
        task's dataset input left unconnected is then connected to the workflow input ``dataset``
        (added when missing), as Ikomia's root takes a folder input. A folder run with no
        ``output_dir`` writes into a new run folder, ``<output_folder>/<time>/``
        (:meth:`get_last_run_folder`).

        ``engine="ray"`` runs a ``folder=`` on a pool of Ray actors instead, with that engine's options
        (``actors=``, ``actor_cpus=``, ``address=``; see :func:`workflow.ray_engine.run_on_ray`).
        Afterwards :meth:`get_time_metrics` covers the whole run and :meth:`get_outputs` its last item.
        """
        source = {k: v for k, v in source.items() if not (k in _SOURCES and isinstance(v, str) and v == "")}
        if source.get("folder") is not None:
            if source.get("input") is None:
                self._connect_folder_input()
            if source.get("output_dir") is None:
                source["output_dir"] = self._new_run_folder()
        out = source.get("output_dir")
        try:
            if engine == "local":
                from workflow.run.runner import run_on  # imported on use: sources, results files, threads

                report = run_on(self, **source)
            else:
                from workflow.run.engines import run_on_engine

                report = run_on_engine(engine, self, source)
        finally:
            if out is not None and Path(out).is_dir():
                self._last_run_folder = Path(out).resolve()
        if source.get("folder") is not None:
            log.info("workflow '%s': output data saved in %s", self.name, self._last_run_folder)
        self._times = dict(report.times)
        self._elapsed = report.elapsed
        self._last_outputs = dict(report.outputs)
        return report

    def _connect_folder_input(self) -> None:
        """Before a folder run: when no task takes an image from the workflow's inputs, wire every
        unconnected folder input of a task (a dataset or path port) to the workflow input ``dataset``."""
        from workflow.core.ports import Dataset
        from workflow.run.runner import takes_folder, takes_images

        consumed = {e.src_port for e in self.edges if e.src == INPUTS}
        if any(takes_images(self.inputs[n]) for n in consumed):
            return
        wired = {(e.dst, e.dst_port) for e in self.edges}
        open_ports = [
            (t, p)
            for t in self.tasks
            for p in t.inputs
            if (t.id, p.name) not in wired and takes_folder(p.type)
        ]
        if not open_ports:
            return
        name = next((n for n, ty in self.inputs.items() if ty is Dataset), None)
        if name is None:
            name = _fresh("dataset", self.inputs)
            self.inputs[name] = Dataset
        for task, port in open_ports:
            self.connect(None, task, {name: port.name})

    # -- Ikomia's global inputs ------------------------------------------------------------------------
    def set_image_input(
        self, array: Any = None, path: str | os.PathLike = "", url: str = "", index: int = -1
    ) -> None:
        """Give an image to the workflow input at ``index`` (in declaration order) for :meth:`run`.

        ``index=-1``: the first image input with no image yet; when each has one, a new input is added
        (as Ikomia does; connect it with :meth:`connect_tasks`). Exactly one of ``array``, ``path``,
        ``url``.

        Raises:
            InputError: not exactly one source, a missing file, or an input that takes no image.
        """
        given = {"array": array} if array is not None else {}
        given.update((k, v) for k, v in (("path", path), ("url", url)) if v)
        if len(given) != 1:
            raise InputError(
                f"set_image_input needs exactly one of array=, path=, url= (got {', '.join(given) or 'none'})"
            )
        kind, value = next(iter(given.items()))
        if kind == "path" and not Path(value).is_file():
            raise InputError(f"{value}: no such image file")
        from workflow.run.runner import takes_images

        names = list(self.inputs)
        if 0 <= index < len(names):
            name = names[index]
            if not takes_images(self.inputs[name]):
                raise InputError(
                    f"workflow '{self.name}': input {index} '{name}' ({self.inputs[name].label}) "
                    "takes no image"
                )
        elif index == -1 or index >= len(names):
            free = (
                [n for n in names if takes_images(self.inputs[n]) and n not in self._given]
                if index == -1
                else []
            )
            name = free[0] if free else _fresh("image", self.inputs)
            self.inputs.setdefault(name, Image)
        else:
            raise InputError(f"set_image_input: index {index}: expected -1 or an input index from 0")
        if self._folder is not None and self._folder[1] in (None, name):
            self._folder = None  # the image takes the place of the folder
        self._given[name] = (kind, value)

    def set_directory_input(self, folder: str | os.PathLike = "", index: int = -1) -> None:
        """Give a folder to :meth:`run`: its images are run one by one, or the folder itself is fed to
        the task that takes it (see :meth:`run_on`). ``index``: the workflow input it goes to (-1: chosen
        as :meth:`run_on` ``folder=`` chooses).

        Raises:
            InputError: ``folder`` is not a folder (Ikomia only logs it), or a bad ``index``.
        """
        if not folder or not Path(folder).is_dir():
            raise InputError(f"{folder or repr(folder)}: not a folder (set_directory_input)")
        names = list(self.inputs)
        if 0 <= index < len(names):
            name: str | None = names[index]
        elif index == -1 or index >= len(names):
            name = None
        else:
            raise InputError(f"set_directory_input: index {index}: expected -1 or an input index from 0")
        if name is not None:
            self._given.pop(name, None)
        self._folder = (os.fspath(folder), name)

    def _given_values(self, *leave_out: str) -> dict[str, Any]:
        """The images given by :meth:`set_image_input` as arrays, but ``leave_out`` (the run's source)."""
        from workflow.core.imaging import load_image
        from workflow.run.sources import load_url

        values = {}
        for name, (kind, value) in self._given.items():
            if name in leave_out or name not in self.inputs:
                continue
            values[name] = (
                value if kind == "array" else load_url(value) if kind == "url" else load_image(value)
            )
        return values

    # -- results ---------------------------------------------------------------------------------------
    def get_time_metrics(self) -> dict[str, Any]:
        """Ikomia's time metrics of the last run, in milliseconds: ``total_time`` (the run's wall time),
        and per task name ``task_time`` and ``time_from_start`` (the times of this task and every task
        before it in execution order). Seconds per task id: :meth:`get_task_seconds`."""
        metrics: dict[str, Any] = {"total_time": self._elapsed * 1000.0}
        so_far = 0.0
        for task in self.order():
            task_ms = self._times.get(task.id, 0.0) * 1000.0
            so_far += task_ms
            metrics[task.name] = {"task_time": task_ms, "time_from_start": so_far}
        return metrics

    def get_task_seconds(self) -> dict[str, float]:
        """Seconds spent in each task (by id) during the last run, plus ``total`` (their sum)."""
        times = {k: v for k, v in self._times.items() if k != "total"}
        return {**times, "total": sum(times.values())}

    def get_outputs(self) -> dict[str, Any]:
        """Workflow outputs of the last item run."""
        return dict(self._last_outputs)

    @property
    def output_folder(self) -> str:
        """Where folder runs without ``output_dir`` make their run folders: ``runs/<name>`` in the working
        folder unless set (Ikomia: ``~/Ikomia/Workflows/<name>``)."""
        if self._output_folder is not None:
            return self._output_folder
        return os.path.join("runs", self.name if is_safe_name(self.name) else "workflow")

    @output_folder.setter
    def output_folder(self, folder: str | os.PathLike) -> None:
        self._output_folder = os.fspath(folder)

    def _new_run_folder(self) -> Path:
        """A run folder not used yet: ``<output_folder>/<date>T<time>`` (``_2``, ``_3``... in one second)."""
        base = Path(self.output_folder)
        stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
        folder, n = base / stamp, 2
        while folder.exists():
            folder, n = base / f"{stamp}_{n}", n + 1
        return folder

    def get_last_run_folder(self) -> str:
        """The folder the last folder run wrote its results into ("" before any)."""
        return str(self._last_run_folder) if self._last_run_folder is not None else ""

    # -- Ikomia's graph methods ------------------------------------------------------------------------
    def root(self) -> Root:
        """The root node: stands for the workflow's inputs (a source for :meth:`connect_tasks`)."""
        return self._root

    def get_tasks(self) -> list[Any]:
        """Every task, the root first (as Ikomia lists them)."""
        return [self._root, *self.tasks]

    def find_task(self, name: str, index: int = -1) -> Task | list[Task]:
        """The tasks named ``name`` (task name or id): a list when ``index`` is -1, else the one at ``index``.

        Raises:
            GraphError: ``index`` is out of range (Ikomia returns the list then).
        """
        found = [t for t in self.tasks if name in (t.name, t.id)]
        if index == -1:
            return found
        if 0 <= index < len(found):
            return found[index]
        raise GraphError(f"workflow '{self.name}' has {len(found)} task(s) named '{name}': no index {index}")

    def connect_tasks(
        self, src: Task | Root | None, target: Task, edges: Iterable[tuple[int, int]] | None = None
    ) -> None:
        """Connect ``src`` (a task, or ``wf.root()`` / None for the workflow's inputs) to ``target``.

        ``edges``: ``(src output index, target input index)`` pairs; None or empty connects every input
        of ``target`` that an output of ``src`` can feed. Types are checked as for :meth:`connect`.

        Raises:
            PortError: an index out of range or incompatible types.
        """
        source = None if src is None or src is self._root else src
        pairs = list(edges or [])
        if not pairs:
            self.connect(source, target)
            return
        for pair in pairs:
            if len(pair) != 2:
                raise PortError(
                    f"connect_tasks: edge {pair!r}: expected (src output index, target input index)"
                )
            self.connect(source, target, {pair[0]: pair[1]})

    def remove_task(self, task: Task | str | None = None, name: str = "", index: int = 0) -> None:
        """Remove a task (an instance or id, or the ``index``-th task named ``name``) and its edges.

        Raises:
            GraphError: no such task, or the root.
        """
        if task is None:
            if not name:
                raise GraphError("remove_task needs a task or a task name")
            task = self.find_task(name, index)
        if task is self._root:
            raise GraphError(f"workflow '{self.name}': the root (the workflow's inputs) cannot be removed")
        if isinstance(task, Task) and self._tasks.get(task.id) is not task:
            raise GraphError(f"workflow '{self.name}' has no task {task!r}")
        super().remove_task(task)

    def get_task_output(
        self,
        task_obj: Task | list[Task] | None = None,
        task_name: str = "",
        task_index: int = 0,
        types: Iterable[type[DataType] | str] | None = None,
        output_index: int = -1,
    ) -> Any:
        """The outputs of a task whose data type is one of ``types`` (exactly: default ``[Image]``, which
        leaves out annotated images as Ikomia's IMAGE leaves out graphics), as IO objects.

        The task is ``task_obj``, or the ``task_index``-th named ``task_name`` (-1: every one of them).
        ``output_index=-1`` gives the list of matches, else the match at that position.

        Raises:
            GraphError: no task given or found.  PortError: ``output_index`` out of range.
        """
        if task_obj is None:
            if not task_name:
                raise GraphError("get_task_output needs task_obj= or task_name=")
            task_obj = self.find_task(task_name, task_index)
        wanted = tuple(resolve_data_type(t) if isinstance(t, str) else t for t in (types or (Image,)))
        found: list[Any] = []
        for task in task_obj if isinstance(task_obj, list) else [task_obj]:
            matches = [io for io in task.get_outputs() if io.data_type in wanted]
            if output_index == -1:
                found += matches
            elif 0 <= output_index < len(matches):
                found.append(matches[output_index])
            else:
                raise PortError(
                    f"task '{task.id}' has {len(matches)} output(s) of type "
                    f"{', '.join(t.label for t in wanted)}: no output_index {output_index}"
                )
        return found if output_index == -1 or isinstance(task_obj, list) else found[0]

    # -- files -----------------------------------------------------------------------------------------
    load = _ClassOrInstanceMethod(_load_new, _load_into)

    def merge(self, other: Graph, source: str = "") -> None:
        """Add ``other``'s inputs, tasks (ids already used get a suffix), edges and outputs to this workflow,
        and take its name (what :meth:`load` on an instance does).

        Raises:
            GraphError: an input of the same name but another type, or an output name already used;
                nothing is changed then.
        """
        where = f" ({source})" if source else ""
        for name, dtype in other.inputs.items():
            if name in self.inputs and self.inputs[name] is not dtype:
                raise GraphError(
                    f"workflow '{self.name}': input '{name}' is {self.inputs[name].label} here and "
                    f"{dtype.label} in '{other.name}'{where}"
                )
        clash = sorted(set(self.outputs) & set(other.outputs))
        if clash:
            raise GraphError(f"workflow '{self.name}' already has an output '{clash[0]}'{where}")
        for name, dtype in other.inputs.items():
            self.inputs.setdefault(name, dtype)
        ids = {}
        for task in other.tasks:
            old = task.id
            self.add_task(task)
            ids[old] = task.id
        for e in other.edges:
            self.connect(None if e.src == INPUTS else ids[e.src], ids[e.dst], {e.src_port: e.dst_port})
        for name, (tid, port) in other.outputs.items():
            self.add_output(name, ids[tid], port)
        self.name = other.name

    def save(self, path: str | os.PathLike) -> None:
        """Write the workflow as a pipeline file, JSON for ``.json`` and YAML for ``.yaml``/``.yml`` (the same
        version-1 content; :meth:`load` rebuilds the same graph).

        Raises:
            PipelineError: another suffix, or something the file format cannot express.
        """
        from workflow.pipeline import save_workflow

        save_workflow(self, path)


def _fresh(base: str, used: Iterable[str]) -> str:
    """``base``, or ``base_1``, ``base_2``... the first not in ``used``."""
    taken = set(used)
    if base not in taken:
        return base
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"

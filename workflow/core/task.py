"""The Task base class: typed parameters, typed ports (read through IO objects), run()."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from workflow.core.context import RunContext, current_context
from workflow.core.errors import ParamError, PortError, did_you_mean
from workflow.core.io import INPUT, OUTPUT, TaskIO, make_io
from workflow.core.params import TaskParams, build_params, check_param_defaults, param_strings
from workflow.core.ports import AnnotatedImage, Image, Port
from workflow.core.progress import progress_bar


class Task:
    """Base class of every task.

    Subclasses set ``name``, ``Params`` (a :class:`TaskParams` model), ``inputs``
    and ``outputs`` (tuples of :class:`Port`) and implement :meth:`run`, which
    reads ``self.get_input(...).data`` (or the IO methods, e.g. ``get_image()``) and
    ``self.params``, and calls ``self.set_output(...)``. Tasks that can process several
    items at once (e.g. a model forward pass on a batch) override :meth:`run_batch`,
    which takes and returns dicts of raw values.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[TaskParams]] = TaskParams
    inputs: ClassVar[tuple[Port, ...]] = ()
    outputs: ClassVar[tuple[Port, ...]] = ()

    def __init__(self, params: dict[str, Any] | None = None, task_id: str | None = None):
        self.id = task_id or self.name
        self.log = logging.getLogger(f"workflow.core.task.{self.name}")
        self._params = build_params(self.id, self.Params, params or {})
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, Any] = _Outputs()
        self.elapsed = 0.0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id!r}>"

    @property
    def context(self) -> RunContext:
        """The run this task is part of (output folder, save options); see :mod:`workflow.core.context`."""
        return current_context()

    # -- parameters -------------------------------------------------------
    @property
    def params(self) -> TaskParams:
        """The typed parameter model (read-only view; use set_parameters to change)."""
        return self._params

    def set_parameters(self, values: dict[str, Any]) -> None:
        """Merge a partial dict of parameters; strings such as "224" or "true" are coerced.

        Raises:
            ParamError: unknown key (with a suggestion) or bad value.
        """
        new = build_params(self.id, self.Params, values, base=self._params)
        changed = {k for k in type(new).model_fields if getattr(new, k) != getattr(self._params, k)}
        self._params = new
        if changed:
            self.on_params_changed(changed)

    def get_parameters(self) -> dict[str, str]:
        """Current parameters as Ikomia gives them: ``{name: str(value)}``, ``""`` for None.

        ``set_parameters(get_parameters())`` changes nothing; the typed values are ``self.params``.
        """
        return param_strings(self._params)

    def on_params_changed(self, changed: set[str]) -> None:
        """Hook: drop state that depends on the changed parameters (e.g. a loaded model)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_param_defaults(cls)

    # -- ports (by name, or by index in declaration order) -------------------
    @classmethod
    def input_port(cls, name: str | int) -> Port:
        return find_port(cls, cls.inputs, name, "input")

    @classmethod
    def output_port(cls, name: str | int) -> Port:
        return find_port(cls, cls.outputs, name, "output")

    def set_input(self, name: str | int, value: Any) -> None:
        """Check ``value`` against the input port's type and store it (None clears the port)."""
        port = self.input_port(name)
        if value is None:
            self._inputs.pop(port.name, None)
            return
        self._inputs[port.name] = _checked(self, port, value, INPUT)

    def get_input(self, name: str | int) -> TaskIO:
        """The IO object of an input port (by name or index); its raw value is ``.data``."""
        return make_io(self, self.input_port(name), INPUT)

    def get_inputs(self) -> list[TaskIO]:
        """The IO objects of every input port, in declaration order."""
        return [make_io(self, port, INPUT) for port in self.inputs]

    def set_output(self, name: str | int, value: Any) -> None:
        """Check ``value`` against the port's type (normalising it) and store it."""
        port = self.output_port(name)
        self._outputs[port.name] = _checked(self, port, value, OUTPUT)

    def get_output(self, name: str | int) -> TaskIO:
        """The IO object of an output port (by name or index); its raw value is ``.data``."""
        return make_io(self, self.output_port(name), OUTPUT)

    def get_outputs(self) -> list[TaskIO]:
        """The IO objects of every output port, in declaration order."""
        return [make_io(self, port, OUTPUT) for port in self.outputs]

    def port_values(self, kind: str) -> dict[str, Any]:
        """The live ``{port name: raw value}`` dict of this task's ``"input"`` or ``"output"`` ports (what
        IO objects read and write; ports without data are absent).

        Raises:
            ValueError: ``kind`` is neither "input" nor "output".
        """
        if kind not in (INPUT, OUTPUT):
            raise ValueError(f"task '{self.id}': port kind must be 'input' or 'output', got {kind!r}")
        return self._inputs if kind == INPUT else self._outputs

    def check_outputs(self, outputs: dict[str, Any]) -> None:
        """Check one item's outputs after a run: every required output present, and each value against
        its port's type (normalised in place) unless :meth:`set_output` checked it already. The task, not
        the next one, is to blame."""
        checked = isinstance(outputs, _Outputs)
        for port in self.outputs:
            value = outputs.get(port.name)
            if value is None:
                if not port.optional:
                    raise PortError(
                        f"task '{self.id}' ({type(self).__module__}.{type(self).__qualname__}) did not set its "
                        f"required output '{port.name}' ({port.type.label}); "
                        "declare it optional=True if it may stay empty"
                    )
                continue
            if not checked:
                outputs[port.name] = _checked(self, port, value, OUTPUT)

    def clear(self) -> None:
        """Forget inputs and outputs of the previous run (keeps loaded models)."""
        self._inputs = {}
        self._outputs = _Outputs()  # a new dict: outputs already handed out keep their values

    # -- running --------------------------------------------------------------
    def prepare(self, inputs: dict[str, Any]) -> None:
        """Hook: get ready for a run before any item is decoded (e.g. load a model); default: nothing.

        The runner calls it once per run on every per-item task, after the static tasks ran,
        with the values of this task's inputs that are the same for every item (outputs of
        static tasks, constant workflow inputs). An error raised here stops the run at once;
        raise :class:`~workflow.core.errors.SetupError` for failures that do not depend on the item.
        It may be called again for the next run: keep it cheap when nothing changed.
        """

    def run(self) -> None:
        """Process the current inputs and set the outputs."""
        raise NotImplementedError(f"task '{self.id}' does not implement run()")

    def run_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run on several input dicts; returns one output dict per item (default: one run() each)."""
        results = []
        for item in items:
            self.clear()
            # the executor checked these values where they were produced: bound as they are
            self._inputs.update((self.input_port(k).name, v) for k, v in item.items() if v is not None)
            self.run()
            results.append(self._outputs)
        return results

    def batch_hint(self) -> int | None:
        """Items per :meth:`run_batch` call this task prefers in folder/video runs (None: no preference)."""
        return None

    def decode_hint(self, port: str) -> int | None:
        """Smallest image side this task needs on input ``port``; lets sources decode big JPEGs at reduced
        scale."""
        return None

    def get_results(self) -> Any:
        """The task's main result, in the shape users of the task expect (default: first output)."""
        return self._outputs.get(self.outputs[0].name) if self.outputs else None

    def get_image_with_graphics(self) -> Any:
        """The last run's first image output as an array (annotated images first), or None (Ikomia's call)."""
        for kind in (AnnotatedImage, Image):
            port = next((p for p in self.outputs if issubclass(p.type, kind)), None)
            if port is not None:
                return self._outputs.get(port.name)
        return None

    def progress(self, iterable=None, total: int | None = None, desc: str | None = None, **kwargs):
        """A progress bar labelled with the task id; quiet off-terminal."""
        return progress_bar(iterable, total=total, desc=desc or self.id, **kwargs)


def find_port(cls: type[Task], ports: tuple[Port, ...], key: str | int, kind: str) -> Port:
    """The port named ``key``, or at index ``key`` (declaration order; ``"0"`` as in ``$steps.id.0`` too).

    Raises:
        PortError: no such port; lists every port as ``index 'name'``.
    """
    if isinstance(key, str) and key.isdigit() and all(p.name != key for p in ports):
        key = int(key)
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key < len(ports):
            return ports[key]
        hint = ""
    else:
        for port in ports:
            if port.name == key:
                return port
        hint = did_you_mean(key, [p.name for p in ports])
    raise PortError(
        f"task '{cls.name}' has no {kind} port {key!r}{hint}; {kind}s by index or name: {_port_list(ports)}"
    )


class _Outputs(dict):
    """A task's own outputs: every value went through :meth:`Task.set_output`, which checked it."""


def _port_list(ports: tuple[Port, ...]) -> str:
    return ", ".join(f"{i} '{p.name}'" for i, p in enumerate(ports)) or "none"


def _checked(task: Task, port: Port, value: Any, kind: str) -> Any:
    try:
        return port.type.check(value)
    except TypeError as exc:
        raise PortError(f"task '{task.id}': {kind} '{port.name}' ({port.type.label}): {exc}") from None


__all__ = ["Task", "ParamError", "PortError"]

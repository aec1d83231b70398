"""The pipeline file format: its pydantic schema, located problems, and the JSON Schema for editors.

A problem is one line, ``<file>:<line>: task '<id>': <field>: <message>``; the
line comes from the YAML node tree (see :class:`Locator`).
"""

from __future__ import annotations

import re
import reprlib
import warnings
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from workflow.core.errors import PipelineError, PluginError, did_you_mean
from workflow.core.files import is_safe_name
from workflow.core.ports import DATA_TYPES

FORMAT_VERSION = 1
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
REF_PATTERN = r"^\$(inputs\.[^.\s]+|steps\.[^.\s]+\.[^.\s]+)$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Ref = Annotated[str, Field(json_schema_extra={"pattern": REF_PATTERN})]
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class InputSpec(_Spec):
    """A workflow input: ``{type: image}``."""

    type: str = Field(description="data type of the input", json_schema_extra={"enum": sorted(DATA_TYPES)})


class TaskSpec(_Spec):
    """One step: a registered task with its params and, optionally, explicit input references."""

    id: Name = Field(description="unique step id, used in $steps.<id>.<port> references")
    task: str = Field(min_length=1, description="registered task name (see `workflow list`)")
    params: dict[str, Any] = Field(
        default_factory=dict, description="task parameters (see `workflow describe`)"
    )
    inputs: dict[str, Ref] | None = Field(
        None, description="input port -> $inputs.<name> or $steps.<id>.<port>; leave out to auto-connect"
    )


class PipelineSpec(_Spec):
    """A whole pipeline file (format version 1)."""

    version: int = Field(description="file format version", json_schema_extra={"const": FORMAT_VERSION})
    name: str = Field(
        "workflow",
        description="pipeline name; the default output folder is runs/<name>, so it must "
        "be one safe path component (no '/', no leading '.', '-', '~')",
    )
    inputs: dict[Name, InputSpec] = Field(default_factory=dict, description="workflow inputs by name")
    tasks: list[TaskSpec] = Field(
        description="the steps, in file order (auto-connect looks at earlier steps)"
    )
    outputs: dict[str, Ref] = Field(default_factory=dict, description="output name -> $steps.<id>.<port>")

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"unsupported version {value}; this toolkit reads version {FORMAT_VERSION}")
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not is_safe_name(value):
            raise ValueError(
                "must be one safe path component (it names the default output folder runs/<name>): "
                "no '/' or '\\', no control characters, not starting with '.', '-', '~' or a space, "
                "at most 100 characters"
            )
        return value


@dataclass(frozen=True)
class Problem:
    """One located problem in a pipeline file."""

    file: str
    line: int | None
    field: str
    message: str
    task_id: str | None = None
    task_index: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        task = (
            f"task '{self.task_id}': "
            if self.task_id
            else (f"task #{self.task_index + 1}: " if self.task_index is not None else "")
        )
        field = f"{self.field}: " if self.field else ""
        return one_line(f"{where}: {task}{field}{self.message}")


def one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def pipeline_error(problems: list[Problem]) -> PipelineError:
    """A PipelineError naming the first problem; all of them are in ``.problems``."""
    more = len(problems) - 1
    err = PipelineError(str(problems[0]) + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))
    err.problems = list(problems)
    return err


def suggest(word: Any, choices: list[str]) -> str:
    return did_you_mean(word, choices, cutoff=0.5)


class Locator:
    """Maps paths in the document (``("tasks", 0, "params", "top_k")``) to 1-based line numbers."""

    def __init__(self, file: str, data: Any = None, node: yaml.Node | None = None):
        self.file = file
        self.data = data
        self.lines: dict[tuple, int] = {}
        self.duplicates: list[Problem] = []
        if node is not None:
            self.lines[()] = node.start_mark.line + 1
            self._walk(node, (), set())

    def _walk(self, node: yaml.Node, path: tuple, seen: set[int]) -> None:
        if id(node) in seen:  # aliases may make the node graph recursive
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
                line = key_node.start_mark.line + 1
                if path + (key,) in self.lines and key != "<<":
                    self.duplicates.append(
                        self.problem(
                            path + (key,),
                            f"duplicate key (first at line {self.lines[path + (key,)]})",
                            line=line,
                        )
                    )
                else:
                    self.lines[path + (key,)] = line
                self._walk(value, path + (key,), seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                self._walk(item, path + (i,), seen)

    def line(self, path: tuple) -> int | None:
        """Line of the deepest known prefix of ``path``."""
        path = tuple(p if isinstance(p, int) and not isinstance(p, bool) else str(p) for p in path)
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: tuple, message: str, line: int | None = None) -> Problem:
        """A problem at ``path``; paths under ``("tasks", i)`` name the task by id (or number)."""
        task_id = task_index = None
        rest = path
        if len(path) >= 2 and path[0] == "tasks" and isinstance(path[1], int):
            task_index, rest = path[1], path[2:]
            task_id = self._task_id(task_index)
            if not rest:
                rest = ("tasks", task_index)
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{_key_text(p)}" for p in rest).lstrip(".")
        return Problem(self.file, line or self.line(path), field, message, task_id, task_index)

    def _task_id(self, index: int) -> str | None:
        tasks = self.data.get("tasks") if isinstance(self.data, dict) else None
        if isinstance(tasks, list) and index < len(tasks) and isinstance(tasks[index], dict):
            tid = tasks[index].get("id")
            if isinstance(tid, str) and tid.strip() and "\n" not in tid and "'" not in tid:
                return tid
        return None


def _key_text(key: Any) -> str:
    """A mapping key as written in a field path; odd keys (empty, spaces, unicode) are quoted."""
    text = str(key)
    return text if _PLAIN_KEY.match(text) else one_line(_short.repr(text))


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_$-]+$")


def check_schema(data: dict[str, Any], locator: Locator) -> tuple[PipelineSpec | None, list[Problem]]:
    """Validate the document against :class:`PipelineSpec`; every error becomes a located problem."""
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        errors = sorted(
            exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden"
        )  # did-you-mean first
        return None, [_schema_problem(err, locator) for err in errors]
    problems = []
    first: dict[str, int] = {}
    for i, task in enumerate(spec.tasks):
        if task.id in first:
            problems.append(
                locator.problem(
                    ("tasks", i, "id"),
                    f"duplicate id '{task.id}' (also task "
                    f"#{first[task.id] + 1}, line {locator.line(('tasks', first[task.id]))})",
                )
            )
        first.setdefault(task.id, i)
    for name, spec_in in spec.inputs.items():
        if spec_in.type not in DATA_TYPES:
            problems.append(
                locator.problem(
                    ("inputs", name, "type"),
                    f"unknown data type '{spec_in.type}'"
                    f"{suggest(spec_in.type, list(DATA_TYPES))}; known: {', '.join(sorted(DATA_TYPES))}",
                )
            )
    return (None if problems else spec), problems


def _schema_problem(err: dict[str, Any], locator: Locator) -> Problem:
    loc = tuple(p for p in err["loc"] if p != "[key]")
    kind = err["type"]
    if kind == "extra_forbidden":
        valid = list(_model_at(loc).model_fields)
        message = f"unknown key{suggest(loc[-1], valid)}; valid keys: {', '.join(valid)}"
    elif kind == "missing":
        message = "required key is missing"
    elif "[key]" in err["loc"]:
        message = f"invalid name {_short.repr(loc[-1])}: {err['msg']}"
    elif kind == "value_error":
        message = str(err["ctx"]["error"])
    else:
        expected = _EXPECTED.get(kind)
        if kind == "model_type":
            expected = f"a mapping with keys {', '.join(_model_at(loc + ('',)).model_fields)}"
        message = f"expected {expected}" if expected else err["msg"]
        message += f", got {_short.repr(err.get('input'))}"
    return locator.problem(loc, message)


_EXPECTED = {
    "dict_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
}


def _model_at(loc: tuple) -> type[BaseModel]:
    if len(loc) == 3 and loc[0] == "tasks":
        return TaskSpec
    if len(loc) == 3 and loc[0] == "inputs":
        return InputSpec
    return PipelineSpec


def pipeline_json_schema(registry=None, with_params: bool = True) -> dict[str, Any]:
    """JSON Schema of pipeline files; with ``with_params``, each registered task's params are typed too.

    Tasks whose plugin fails to import are left out with a warning (an error in strict mode).
    """
    schema = PipelineSpec.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": f"workflow pipeline (version {FORMAT_VERSION})",
    }
    if not with_params:
        return schema
    from workflow.plugins.registry import default_registry

    registry = registry or default_registry()
    defs = schema.setdefault("$defs", {})
    task_def = defs["TaskSpec"]
    rules = []
    for name in registry.names():
        try:
            cls = registry.get(name)
        except PluginError as exc:
            if registry.strict:
                raise
            warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
            continue
        prefix = f"params__{name}"
        params = cls.Params.model_json_schema(ref_template=f"#/$defs/{prefix}__{{model}}")
        for sub, sub_schema in params.pop("$defs", {}).items():
            defs[f"{prefix}__{sub}"] = sub_schema
        defs[prefix] = params
        rules.append(
            {
                "if": {"properties": {"task": {"const": name}}, "required": ["task"]},
                "then": {"properties": {"params": {"$ref": f"#/$defs/{prefix}"}}},
            }
        )
    task_def["properties"]["task"]["enum"] = [r["if"]["properties"]["task"]["const"] for r in rules]
    if rules:
        task_def["allOf"] = rules
    return schema

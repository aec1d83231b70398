"""Typed task parameters built on pydantic.

A task declares ``class Params(TaskParams)`` with typed fields. Values may be
native or strings (``"224"``, ``"true"``, ``"none"``), as Ikomia-style scripts
pass them. Unknown keys are errors with a did-you-mean suggestion; bad values
name the task, the parameter, the value and what was expected.

:func:`param_strings` gives the parameters back as Ikomia does (a dict of strings, ``""``
for None, JSON text for lists and dicts), in a form that validates back to the same values.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from workflow.core.errors import ParamError, PluginError, did_you_mean
from workflow.core.limits import clip, excerpt

MAX_INT = 2**63 - 1
_NONE_STRINGS = {"", "none", "null", "None", "NULL"}


class TaskParams(BaseModel):
    """Base class of every task's parameter model."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        populate_by_name=True,
        protected_namespaces=(),
        allow_inf_nan=False,
    )  # no parameter means infinity or NaN: refuse them at validation

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_ints(cls, value: Any) -> Any:
        """No integer parameter needs more than 64 bits; bigger ones fail later, far from the file."""
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
            raise ValueError(
                f"an integer of {len(str(abs(value)))} digits is out of range (at most {MAX_INT})"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _none_strings(cls, data: Any) -> Any:
        """Turn "none"/"" into None for optional fields (Ikomia passes every value as a string)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            field = _field_for_key(cls, key)
            if field is None or not isinstance(value, str):
                continue
            annotation = cls.model_fields[field].annotation
            # a field that takes text keeps its spaces: only the exact "none" words mean None there
            text = value if _takes_text(annotation) else value.strip()
            if text in _NONE_STRINGS and _is_optional(annotation):
                out[key] = None
            elif value.strip()[:1] in ("[", "{") and _is_container(annotation):
                out[key] = _json_or_text(value)
        return out


def param_strings(params: TaskParams) -> dict[str, str]:
    """``params`` as Ikomia's ``get_parameters()`` gives them: ``{field: text}`` with ``str(value)`` (bools
    ``"True"``/``"False"``), ``""`` for None and JSON text for lists, tuples and dicts. Each text validates
    back to the same value (``set_parameters(param_strings(p))`` changes nothing)."""
    return {name: _param_text(getattr(params, name)) for name in type(params).model_fields}


def _param_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return json.dumps(list(value) if isinstance(value, (set, frozenset)) else value, default=str)
    if isinstance(value, enum.Enum):
        return str(value.value)  # as validation takes it back
    return str(value)


def _takes_text(annotation: Any) -> bool:
    """True when ``annotation`` (or one member of a union) is ``str`` or a Literal of strings."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_takes_text(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return any(isinstance(a, str) for a in typing.get_args(annotation))
    return annotation is str


def _is_container(annotation: Any) -> bool:
    """True when ``annotation`` (or one member of a union) is a list, tuple, set or dict type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_container(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _is_container(typing.get_args(annotation)[0])
    return (origin or annotation) in (list, tuple, set, frozenset, dict)


def _json_or_text(value: str) -> Any:
    """``value`` parsed as JSON, or the text itself when it is not JSON (validation then names the field)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


PATH_KEY = "x-path"  # json_schema_extra marker of path parameters: "input" (must exist) or "output"


def path_field(default: Any = None, *, must_exist: bool = True, **kwargs: Any) -> Any:
    """A ``Field`` holding a file or folder path.

    In a pipeline file a relative value is resolved against the file's folder (scripts keep the
    working directory), and ``workflow validate`` checks that it exists when ``must_exist``.
    """
    return Field(default, json_schema_extra={PATH_KEY: "input" if must_exist else "output"}, **kwargs)


def path_params(model: type[TaskParams]) -> dict[str, bool]:
    """``{field name: must exist}`` for the path parameters of ``model`` (declared with
    :func:`path_field`)."""
    out = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get(PATH_KEY) in ("input", "output"):
            out[name] = extra[PATH_KEY] == "input"
    return out


def field_for_key(model: type[TaskParams], key: str) -> str | None:
    """The field name a key (field name or alias) refers to, or None."""
    return _field_for_key(model, key)


def _is_optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _aliases(model: type[TaskParams], name: str) -> list[str]:
    alias = model.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [a for a in alias.choices if isinstance(a, str)]
    if isinstance(alias, str):
        return [alias]
    return []


def _field_for_key(model: type[TaskParams], key: str) -> str | None:
    """The field name a key (field name or alias) refers to, or None."""
    if key in model.model_fields:
        return key
    for name in model.model_fields:
        if key in _aliases(model, name):
            return name
    return None


def accepted_keys(model: type[TaskParams]) -> list[str]:
    """Every key ``set_parameters`` accepts: field names and their aliases."""
    keys = list(model.model_fields)
    for name in model.model_fields:
        keys += [a for a in _aliases(model, name) if a not in keys]
    return keys


def _type_text(ann: Any) -> str:
    """``int``, ``str or None``, ``one of 'a', 'b'``: a type as users read it."""
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_text(a) for a in typing.get_args(ann))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    return getattr(ann, "__name__", None) or str(ann).replace("typing.", "")


def _expected(model: type[TaskParams], field: str) -> str:
    info = model.model_fields[field]
    text = _type_text(info.annotation)
    bounds = [
        f"{sym} {getattr(m, attr)}"
        for m in info.metadata
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
        if getattr(m, attr, None) is not None
    ]
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _unknown_keys(task_name: str, model: type[TaskParams], values: dict[str, Any]) -> list[str]:
    """One problem per unknown key, each suggesting the closest valid key."""
    keys = accepted_keys(model)
    return [
        f"unknown parameter {_shown_key(key)}{did_you_mean(key, keys, cutoff=0.5) if len(str(key)) <= 100 else ''}"
        for key in values
        if _field_for_key(model, str(key)) is None
    ]


def _shown_key(key: Any) -> str:
    """A key as messages show it: its repr, or a short excerpt of a long one."""
    return repr(str(key)) if len(str(key)) <= 200 else excerpt(str(key))


def check_keys(task_name: str, model: type[TaskParams], values: dict[str, Any]) -> None:
    """Raise ParamError naming every unknown key, each with a suggestion."""
    problems = _unknown_keys(task_name, model, values)
    if problems:
        raise ParamError(f"task '{task_name}': {'; '.join(problems)}; valid: {', '.join(model.model_fields)}")


def _value_problem(
    model: type[TaskParams], err: dict[str, Any], values: dict[str, Any], merged: dict[str, Any]
) -> str:
    """One validation error as ``parameter 'x' got 0, expected int (>= 1) (reason)``."""
    if not err["loc"]:  # a check across parameters (model validator): its message says it all
        return str(err["msg"]).removeprefix("Value error, ")
    loc = err["loc"][0]
    field = _field_for_key(model, str(loc)) or str(loc)
    value = values.get(loc, merged.get(loc, err.get("input")))
    expected = _expected(model, field) if field in model.model_fields else err["msg"]
    return f"parameter '{field}' got {excerpt(value)}, expected {expected} ({clip(err['msg'])})"


def build_params(
    task_name: str, model: type[TaskParams], values: dict[str, Any], base: TaskParams | None = None
) -> TaskParams:
    """Validate ``values`` (merged over ``base``) into a ``model`` instance.

    Raises:
        ParamError: naming every unknown key and every value of the wrong type or range, in one line.
    """
    if not isinstance(values, dict):
        raise ParamError(f"task '{task_name}': parameters must be a mapping, got {type(values).__name__}")
    unknown = _unknown_keys(task_name, model, values)
    known = {k: v for k, v in values.items() if _field_for_key(model, str(k)) is not None}
    # only the values set so far (not defaults): ``model_fields_set`` keeps telling explicit choices from
    # defaults
    merged = base.model_dump(exclude_unset=True) if base is not None else {}
    for key in known:
        merged.pop(_field_for_key(model, str(key)), None)
    merged.update(known)
    try:
        params = model.model_validate(merged)
        problems: list[str] = []
    except ValidationError as exc:
        problems = list(dict.fromkeys(_value_problem(model, err, values, merged) for err in exc.errors()))
    if unknown or problems:
        valid = f"; valid: {', '.join(model.model_fields)}" if unknown else ""
        raise ParamError(f"task '{task_name}': {'; '.join(unknown + problems)}{valid}")
    _keep_defaults_unset(params, base)
    return params


def _keep_defaults_unset(params: TaskParams, base: TaskParams | None) -> None:
    """A field given the value it already had (Ikomia scripts write back all of ``get_parameters()``) stays
    a default: it is not an explicit choice that, e.g., overrides a checkpoint's architecture."""
    before = base if base is not None else type(params).model_construct()
    was_set = base.model_fields_set if base is not None else set()
    same = {
        name
        for name in params.model_fields_set - was_set
        if getattr(params, name) == getattr(before, name, object())
    }
    if same:
        object.__setattr__(params, "__pydantic_fields_set__", params.model_fields_set - same)


def check_param_defaults(task_cls: type) -> None:
    """Raise when a default of ``task_cls.Params`` breaks its own declaration (type, range, choices).

    Raises:
        PluginError: names the module, the task class and the parameter.
    """
    model = getattr(task_cls, "Params", None)
    if not (isinstance(model, type) and issubclass(model, TaskParams)):
        raise PluginError(
            f"{task_cls.__module__}.{task_cls.__qualname__}: Params must be a TaskParams subclass, got {model!r}"
        )
    for name, info in model.model_fields.items():
        if info.is_required():
            continue
        default = info.get_default(call_default_factory=True)
        try:
            model.model_validate({name: default})
        except ValidationError as exc:
            if any(err["loc"][:1] == (name,) for err in exc.errors()):
                raise PluginError(
                    f"{task_cls.__module__}.{task_cls.__qualname__}: parameter '{name}' default {default!r} "
                    f"does not fit its own declaration {_expected(model, name)}"
                ) from None


def describe_params(model: type[TaskParams]) -> list[dict[str, Any]]:
    """Rows of (name, type, default, choices, help, aliases) for ``workflow describe``."""
    rows = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        choices = list(typing.get_args(ann)) if typing.get_origin(ann) is typing.Literal else None
        rows.append(
            {
                "name": name,
                "type": _expected(model, name),
                "default": info.get_default(call_default_factory=True),
                "choices": choices,
                "help": info.description or "",
                "aliases": _aliases(model, name),
            }
        )
    return rows

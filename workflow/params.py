"""Typed task parameters built on pydantic.

A task declares ``class Params(TaskParams)`` with typed fields. Values may be
native or strings (``"224"``, ``"true"``, ``"none"``), as Ikomia-style scripts
pass them. Unknown keys are errors with a did-you-mean suggestion; bad values
name the task, the parameter, the value and what was expected.
"""
from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, ValidationError, model_validator

from workflow.errors import ParamError, did_you_mean

_NONE_STRINGS = {"", "none", "null", "None", "NULL"}


class TaskParams(BaseModel):
    """Base class of every task's parameter model."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True, protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _none_strings(cls, data: Any) -> Any:
        """Turn "none"/"" into None for optional fields (Ikomia passes every value as a string)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            field = _field_for_key(cls, key)
            if field is not None and isinstance(value, str) and value.strip() in _NONE_STRINGS and _is_optional(cls.model_fields[field].annotation):
                out[key] = None
        return out


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
    bounds = [f"{sym} {getattr(m, attr)}" for m in info.metadata for attr, sym in
              (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if getattr(m, attr, None) is not None]
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def check_keys(task_name: str, model: type[TaskParams], values: dict[str, Any]) -> None:
    """Raise ParamError for the first unknown key, suggesting the closest valid one."""
    keys = accepted_keys(model)
    for key in values:
        if _field_for_key(model, str(key)) is None:
            hint = did_you_mean(key, keys, cutoff=0.5)
            raise ParamError(f"task '{task_name}': unknown parameter {str(key)!r}{hint}; valid: {', '.join(model.model_fields)}")


def build_params(task_name: str, model: type[TaskParams], values: dict[str, Any], base: TaskParams | None = None) -> TaskParams:
    """Validate ``values`` (merged over ``base``) into a ``model`` instance.

    Raises:
        ParamError: on an unknown key or a value of the wrong type or range.
    """
    if not isinstance(values, dict):
        raise ParamError(f"task '{task_name}': parameters must be a mapping, got {type(values).__name__}")
    check_keys(task_name, model, values)
    # only the values set so far (not defaults): ``model_fields_set`` keeps telling explicit choices from defaults
    merged = base.model_dump(exclude_unset=True) if base is not None else {}
    for key, value in values.items():
        merged.pop(_field_for_key(model, str(key)), None)
    merged.update(values)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"][0] if err["loc"] else "?"
        field = _field_for_key(model, str(loc)) or str(loc)
        value = values.get(loc, merged.get(loc, err.get("input")))
        expected = _expected(model, field) if field in model.model_fields else err["msg"]
        raise ParamError(
            f"task '{task_name}': parameter '{field}' got {value!r}, expected {expected} ({err['msg']})"
        ) from None


def describe_params(model: type[TaskParams]) -> list[dict[str, Any]]:
    """Rows of (name, type, default, choices, help, aliases) for ``workflow describe``."""
    rows = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        choices = list(typing.get_args(ann)) if typing.get_origin(ann) is typing.Literal else None
        rows.append({
            "name": name,
            "type": _expected(model, name),
            "default": info.get_default(call_default_factory=True),
            "choices": choices,
            "help": info.description or "",
            "aliases": _aliases(model, name),
        })
    return rows

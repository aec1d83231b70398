"""Path parameters in pipeline files: relative to the file's folder when read, checked by validate, relative
when saved.

Path parameters are those declared with :func:`workflow.core.params.path_field`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workflow.core.params import TaskParams, field_for_key, path_params


def resolve_paths(model: type[TaskParams], values: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """``values`` with every relative path parameter joined to ``base_dir`` (unchanged without one)."""
    if base_dir is None:
        return values
    paths = path_params(model)
    out = dict(values)
    for key, value in values.items():
        if (
            field_for_key(model, str(key)) in paths
            and isinstance(value, str)
            and value.strip()
            and _relative(value)
        ):
            out[key] = os.path.normpath(base_dir / Path(value).expanduser())
    return out


def _relative(value: str) -> bool:
    return not Path(value).expanduser().is_absolute() and value.strip().lower() not in ("none", "null")


def missing_paths(params: TaskParams) -> list[tuple[str, str]]:
    """``(parameter, message)`` for each path parameter that must exist and does not."""
    problems = []
    for name, must_exist in path_params(type(params)).items():
        value = getattr(params, name)
        if must_exist and value not in (None, "") and not Path(value).expanduser().exists():
            problems.append(
                (
                    name,
                    f"'{value}' does not exist (relative paths in a pipeline file are read from the file's folder)",
                )
            )
    return problems


def relative_paths(params: TaskParams, dumped: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """``dumped`` with absolute path parameters under ``base_dir`` written relative to it (the folder a file
    is saved in)."""
    if base_dir is None:
        return dumped
    out = dict(dumped)
    for name in path_params(type(params)):
        value = out.get(name)
        if (
            isinstance(value, str)
            and Path(value).is_absolute()
            and Path(os.path.normpath(value)).is_relative_to(base_dir)
        ):
            out[name] = (
                Path(os.path.normpath(value)).relative_to(base_dir).as_posix()
            )  # outside it: stays absolute
    return out

"""Stage 1 of loading a pipeline file: its text to plain data (YAML or JSON, by the file's suffix), bounded
before anything walks it.

YAML: the safe loader only (plain data). YAML aliases share one node, so a few hundred bytes can
describe billions of values: the data is counted, aliases each time they are used, before any
later stage (schema, parameters, error messages) could expand it. Integers of more than 40
digits stay unparsed (:class:`LongInteger`) so that validation names the field they were given for.
JSON: Python's parser, a duplicate key refused; line numbers come from the same text read as YAML
(JSON is YAML) when it is small enough and PyYAML reads it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import PurePath
from typing import Any

import yaml

from workflow.core.errors import PipelineError
from workflow.core.limits import TooLarge, check_expansion
from workflow.pipeline.schema import FORMAT_VERSION, Locator, PipelineSpec, Problem, one_line

FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
MAX_LOCATED_JSON = 1 << 20  # bytes of JSON read a second time (as YAML) for line numbers


def file_format(path: str | os.PathLike) -> str:
    """``"json"`` or ``"yaml"``, from the suffix of ``path``.

    Raises:
        PipelineError: any other suffix (names the file).
    """
    suffix = PurePath(os.fspath(path)).suffix
    if suffix.lower() not in FORMATS:
        raise PipelineError(
            f"{path}: unknown pipeline file type '{suffix}' (use .json for JSON, .yaml or .yml for YAML)"
        )
    return FORMATS[suffix.lower()]


def parse_text(text: str, source: str, fmt: str) -> tuple[Any, Locator, list[Problem]]:
    """Stage 1 in the file's format (``"json"`` or ``"yaml"``)."""
    return parse_json(text, source) if fmt == "json" else parse_yaml(text, source)


def parse_yaml(text: str, source: str) -> tuple[Any, Locator, list[Problem]]:
    locator = Locator(source)
    loader = None
    try:
        loader = _BoundedLoader(text)  # the reader already refuses non-printable characters
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        check_expansion(data)  # aliases are shared, not copied: anything walking the data would expand them
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, locator, [Problem(source, mark.line + 1 if mark else None, "yaml", _yaml_message(exc))]
    except yaml.YAMLError as exc:
        line = text.count("\n", 0, getattr(exc, "position", 0)) + 1
        return None, locator, [Problem(source, line, "yaml", one_line(str(exc)))]
    except TooLarge as exc:
        where = Locator(source, data if isinstance(data, dict) else None, node)
        return (
            None,
            where,
            [where.problem(exc.path, f"too large: {exc} (YAML aliases count each time they are used)")],
        )
    except RecursionError:
        return None, locator, [Problem(source, None, "yaml", "the document is nested too deeply")]
    finally:
        if loader is not None:
            loader.dispose()
    if node is None or data is None:
        return None, locator, [_empty(source)]
    locator = Locator(source, data, node)
    if not isinstance(data, dict):
        return None, locator, [_not_a_mapping(locator, data)]
    return data, locator, locator.duplicates


def parse_json(text: str, source: str) -> tuple[Any, Locator, list[Problem]]:
    """JSON text to plain data; a syntax error or a duplicate key is a problem with its line."""
    locator = Locator(source)
    if not text.strip():
        return None, locator, [_empty(source)]
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
        check_expansion(data)
    except json.JSONDecodeError as exc:
        return (
            None,
            locator,
            [Problem(source, exc.lineno, "json", f"syntax error: {exc.msg} (column {exc.colno})")],
        )
    except _DuplicateKey as exc:
        located = _json_locator(text, source, None)
        if located.duplicates:
            return None, located, located.duplicates[:1]
        return None, locator, [Problem(source, None, "json", f"duplicate key {exc.key!r}")]
    except TooLarge as exc:
        return None, locator, [locator.problem(exc.path, f"too large: {exc}")]
    except RecursionError:
        return None, locator, [Problem(source, None, "json", "the document is nested too deeply")]
    locator = _json_locator(text, source, data)
    if not isinstance(data, dict):
        return None, locator, [_not_a_mapping(locator, data)]
    return data, locator, []


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _json_locator(text: str, source: str, data: Any) -> Locator:
    """A locator with the lines of ``text`` read as YAML, or without lines when it is large or PyYAML
    reads it otherwise (lines are a help; the data is JSON's)."""
    if len(text) <= MAX_LOCATED_JSON:
        try:
            return Locator(source, data, yaml.compose(text, Loader=yaml.SafeLoader))
        except (yaml.YAMLError, RecursionError):
            pass
    return Locator(source, data)


def _empty(source: str) -> Problem:
    return Problem(
        source,
        1,
        "document",
        f"the file is empty; expected a mapping with 'version: {FORMAT_VERSION}' and 'tasks'",
    )


def _not_a_mapping(locator: Locator, data: Any) -> Problem:
    return Problem(
        locator.file,
        locator.line(()),
        "document",
        f"expected a mapping with keys {', '.join(PipelineSpec.model_fields)}; got {type(data).__name__}",
    )


MAX_INT_DIGITS = 40


class LongInteger:
    """An integer literal too long to be meant; kept unparsed so validation names the field it was given
    for."""

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<an integer of {self.digits} digits>"


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader; integers of more than 40 digits become :class:`LongInteger` (Python parses a
    5,000-digit one only to fail with a message that names nothing)."""

    def construct_yaml_int(self, node):
        digits = sum(c.isdigit() for c in node.value)
        if digits > MAX_INT_DIGITS:
            return LongInteger(digits)
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    tag = re.search(r"tag '([^']*)'", exc.problem or "")
    if isinstance(exc, yaml.constructor.ConstructorError) and tag:
        return f"tag '{tag.group(1)}' is not allowed: pipeline files are read with a safe YAML loader (plain data only)"
    context = f" ({exc.context})" if exc.context else ""
    return one_line(f"syntax error: {exc.problem}{context}")

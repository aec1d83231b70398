"""Stage 1 of loading a pipeline file: YAML text to plain data, bounded before anything walks it.

The safe loader only (plain data). YAML aliases share one node, so a few hundred bytes can
describe billions of values: the data is counted, aliases each time they are used, before any
later stage (schema, parameters, error messages) could expand it. Integers of more than 40
digits stay unparsed (:class:`LongInteger`) so that validation names the field they were given for.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from workflow.core.limits import TooLarge, check_expansion
from workflow.pipeline.schema import FORMAT_VERSION, Locator, PipelineSpec, Problem, one_line


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
        return (
            None,
            locator,
            [
                Problem(
                    source,
                    1,
                    "document",
                    f"the file is empty; expected a mapping with 'version: {FORMAT_VERSION}' and 'tasks'",
                )
            ],
        )
    locator = Locator(source, data, node)
    if not isinstance(data, dict):
        return (
            None,
            locator,
            [
                Problem(
                    source,
                    locator.line(()),
                    "document",
                    f"expected a mapping with keys "
                    f"{', '.join(PipelineSpec.model_fields)}; got {type(data).__name__}",
                )
            ],
        )
    return data, locator, locator.duplicates


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

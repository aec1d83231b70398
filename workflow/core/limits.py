"""Bounds on untrusted values: short excerpts for messages, size checks before anything expands a value.

YAML aliases and pickled shared references describe values far larger than the bytes
they came from; walking, formatting or validating them expands them. Check first.
"""

from __future__ import annotations

import reprlib
from typing import Any

MAX_EXPANDED_VALUES = (
    200_000  # values a loaded document may hold once aliases / shared references are expanded
)
MAX_DEPTH = 64

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxtuple, _repr.maxdict, _repr.maxset = 3, 6, 6, 6, 6
_repr.maxstring, _repr.maxlong, _repr.maxother = 60, 40, 60


class TooLarge(ValueError):
    """A value holds more than the allowed number of values (counting shared references each time) or nests
    too deep.

    ``path`` is where the walk was when the bound was hit (its first few keys / indexes).
    """

    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.path = path


def excerpt(value: Any, limit: int = 120) -> str:
    """A short one-line ``repr`` of ``value`` that never expands it (nested and long parts elided)."""
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a value whose repr fails still gets a name in the message
        text = f"<{type(value).__name__}: repr failed ({type(exc).__name__})>"
    text = text.replace("\n", " ").replace("\r", " ")  # a repr is one line already; odd objects' may not be
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters (``...`` marks the cut)."""
    text = " ".join(str(text)[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_expansion(
    value: Any, max_values: int = MAX_EXPANDED_VALUES, max_depth: int = MAX_DEPTH, max_text: int | None = None
) -> int:
    """Count the values in ``value`` as a full walk would see them (shared ones each time), stopping at the
    bound.

    Args:
        max_values: most values (containers, keys and scalars) allowed.
        max_depth: deepest nesting allowed.
        max_text: longest string allowed (None: no limit).

    Returns:
        The number of values counted.

    Raises:
        TooLarge: a bound is exceeded (the message says which one).
    """
    count = 0
    stack: list[tuple[Any, int, tuple]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        count += 1
        if count > max_values:
            raise TooLarge(f"more than {max_values} values once references are expanded", path)
        if depth > max_depth:
            raise TooLarge(f"nested more than {max_depth} levels deep", path)
        if isinstance(item, dict):
            for k, v in item.items():
                stack.append((k, depth + 1, path))
                stack.append((v, depth + 1, path + (k,) if depth < _PATH_DEPTH else path))
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(
                (v, depth + 1, path + (i,) if depth < _PATH_DEPTH else path) for i, v in enumerate(item)
            )
        elif max_text is not None and isinstance(item, (str, bytes)) and len(item) > max_text:
            raise TooLarge(f"a text of {len(item)} characters (limit {max_text})", path)
    return count


_PATH_DEPTH = 4  # how deep TooLarge.path follows the walk

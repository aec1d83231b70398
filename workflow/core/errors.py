"""Error types of the workflow engine; every message is one line naming the culprit."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(word: Any, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or "" when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


def exception_text(exc: BaseException, limit: int = 300) -> str:
    """The message of ``exc`` on one line (its type name when it has none), at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:limit]


class WorkflowError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ParamError(WorkflowError, ValueError):
    """A task parameter is unknown or has a bad value."""


class PortError(WorkflowError, TypeError):
    """A port is unknown, unconnected or fed data of the wrong type."""


class GraphError(WorkflowError):
    """The task graph is invalid (cycle, missing input, unknown task id)."""


class PipelineError(WorkflowError):
    """A pipeline file is invalid; the message names the file, line, task id or field."""


class PluginError(WorkflowError):
    """A task plugin failed to load or two tasks share a name."""


class InputError(WorkflowError):
    """An input (image file, folder, video, url, array) cannot be read."""


class TaskRunError(WorkflowError):
    """A task raised while running; the message names the task."""


class SetupError(WorkflowError):
    """A failure that does not depend on the item being processed (weights missing offline, an
    unreadable class file, a bad checkpoint, a model that cannot be built).

    The executor never isolates it per item: a folder or video run stops at once with this
    one line (exit code 1), instead of failing every image the same way.
    """

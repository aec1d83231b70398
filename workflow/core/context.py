"""The context of one run (output folder, save options), passed down by the runner, never set on tasks.

The runner opens a :class:`RunContext` around the work it drives; a task reads it
with :attr:`workflow.core.task.Task.context` (or :func:`current_context`) while it runs.
Outside a run the context is :data:`NO_CONTEXT` (no output folder, images saved).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    """What a run tells the tasks it drives.

    Attributes:
        output_dir: the run's output folder (absolute), or None when results stay in memory.
        save_images: whether image outputs are saved beside the results.
    """

    output_dir: Path | None = None
    save_images: bool = True


NO_CONTEXT = RunContext()
_current: contextvars.ContextVar[RunContext] = contextvars.ContextVar(
    "workflow_run_context", default=NO_CONTEXT
)


def current_context() -> RunContext:
    """The context of the run in progress in this thread (``NO_CONTEXT`` outside a run)."""
    return _current.get()


@contextmanager
def run_context(context: RunContext) -> Iterator[RunContext]:
    """Make ``context`` current for the code inside the ``with`` block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)

"""Progress bars that go quiet when output is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    """True when bars should draw: ``WORKFLOW_PROGRESS`` (0/1) wins, else stderr must be a TTY."""
    flag = os.environ.get("WORKFLOW_PROGRESS")
    if flag is not None:
        return flag.strip().lower() not in ("0", "false", "no", "off", "")
    return sys.stderr.isatty()


def progress_bar(
    iterable: Iterable[T] | None = None, total: int | None = None, desc: str = "", unit: str = "it", **kwargs
):
    """A tqdm bar over ``iterable`` (or a manual bar when it is None), disabled off-terminal."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=not progress_enabled(),
        dynamic_ncols=True,
        leave=False,
        **kwargs,
    )

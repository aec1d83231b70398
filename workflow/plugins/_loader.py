"""Import plugin code under guard: exits and hangs become errors naming the plugin, prints go to stderr.

A plugin module runs arbitrary code at import. ``sys.exit()`` there must not end the
command, what it prints must not mix into the command's output (``workflow schema > file``),
and an import that never returns must not hang every command. Ctrl-C still interrupts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from workflow.core.errors import PluginError

IMPORT_TIMEOUT_ENV = "WORKFLOW_PLUGIN_IMPORT_TIMEOUT"
DEFAULT_IMPORT_TIMEOUT = 60.0

T = TypeVar("T")


class _ImportTimedOut(Exception):
    pass


def import_timeout() -> float:
    """Seconds a plugin import may take (``WORKFLOW_PLUGIN_IMPORT_TIMEOUT``, default 60; 0 = no limit)."""
    value = os.environ.get(IMPORT_TIMEOUT_ENV, "").strip()
    try:
        return max(0.0, float(value)) if value else DEFAULT_IMPORT_TIMEOUT
    except ValueError:
        raise PluginError(f"{IMPORT_TIMEOUT_ENV}={value[:40]!r}: expected a number of seconds") from None


def guarded(label: str, load: Callable[[], T]) -> T:
    """Run ``load()`` (an import) with stdout sent to stderr, a time limit, and exits turned into errors.

    Raises:
        PluginError: the import raised, called ``sys.exit()`` or timed out; names ``label``.
        KeyboardInterrupt: Ctrl-C during the import.
    """
    timeout = import_timeout()
    use_alarm = (
        timeout > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    previous = None

    def on_alarm(signum, frame):
        raise _ImportTimedOut()

    try:
        if use_alarm:
            previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        with contextlib.redirect_stdout(sys.stderr):
            return load()
    except KeyboardInterrupt:
        raise
    except _ImportTimedOut:
        raise PluginError(
            f"{label} failed to import: still importing after {timeout:g} s "
            f"(set {IMPORT_TIMEOUT_ENV} to wait longer)"
        ) from None
    except SystemExit as exc:
        raise PluginError(f"{label} failed to import: it called sys.exit({exc.code!r})") from None
    except BaseException as exc:  # a broken plugin must not take the command down
        raise PluginError(f"{label} failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)

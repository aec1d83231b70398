"""Ctrl-C during a run: held back while results are written, so the files always end on a complete row."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# SIGTERM joins Ctrl-C when the command line made it raise KeyboardInterrupt (see workflow.cli)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SigintGuard:
    """Ctrl-C raises KeyboardInterrupt at once, except inside :meth:`critical` blocks (writing results),
    where it is held until the block ends. Installed only in the main thread over Python's default handler."""

    def __init__(self):
        self.depth, self.pending, self._old = 0, False, None

    def __enter__(self) -> SigintGuard:
        if threading.current_thread() is threading.main_thread():
            self._old = {
                sig: signal.signal(sig, self._handle)
                for sig in _SIGNALS
                if signal.getsignal(sig) is signal.default_int_handler
            }
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in (self._old or {}).items():
            signal.signal(sig, old)
        self._old = None

    def _handle(self, signum, frame) -> None:
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def critical(self, reraise: bool = True) -> Iterator[None]:
        """A block that Ctrl-C does not cut; a Ctrl-C received inside is raised at its end (when
        ``reraise``)."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if reraise and self.pending and not self.depth:
            self.pending = False
            raise KeyboardInterrupt

"""Which OpenVINO performance hint serves a call of n crops, and each hint's compiled model and request queue.

A model compiled with the THROUGHPUT hint runs one stream per parallel request; a single request
uses one stream only (on 2 AVX2 cores one crop ran at 7.3 img/s with THROUGHPUT, 8.7 with LATENCY).
So a call with fewer crops than THROUGHPUT's requests runs on a LATENCY-compiled model (one request,
every core), and larger calls on THROUGHPUT with their crops split across all its requests (9.2-9.6
img/s against 5.7-6.6 for one LATENCY request of 2-8 crops on that CPU). Each hint is compiled on
first use. ``PERFORMANCE_HINT`` in ``$WORKFLOW_OPENVINO_CONFIG`` pins one hint for every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LATENCY, THROUGHPUT = "LATENCY", "THROUGHPUT"


@dataclass
class Mode:
    """One compiled model with its queue: ``requests`` parallel infer requests for ``hint``."""

    hint: str
    compiled: object
    queue: object
    requests: int


def hint_for(n_items: int, throughput_requests: int) -> str:
    """LATENCY when ``n_items`` crops cannot keep THROUGHPUT's ``throughput_requests`` requests busy."""
    return LATENCY if n_items < max(2, throughput_requests) else THROUGHPUT


class Modes:
    """The compiled models of one backend, per hint, built lazily.

    Args:
        compile_for: hint -> compiled model (the backend's cached compilation).
        on_done: callback of every request (request, job id).
        pinned: a hint to use for every call (from the user's OpenVINO config), or None.
    """

    def __init__(self, compile_for: Callable[[str], object], on_done: Callable, pinned: str | None = None):
        self._compile_for = compile_for
        self._on_done = on_done
        self.pinned = pinned.upper() if pinned else None
        self._modes: dict[str, Mode] = {}

    def get(self, hint: str) -> Mode:
        """The mode of ``hint``, compiling it on first use."""
        if hint not in self._modes:
            import openvino as ov

            compiled = self._compile_for(hint)
            requests = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
            queue = ov.AsyncInferQueue(compiled, requests)
            queue.set_callback(self._on_done)
            self._modes[hint] = Mode(hint, compiled, queue, requests)
        return self._modes[hint]

    def for_items(self, n_items: int) -> Mode:
        """The mode that runs a call of ``n_items`` crops fastest (one crop never compiles THROUGHPUT)."""
        if self.pinned:
            return self.get(self.pinned)
        if n_items <= 1:
            return self.get(LATENCY)
        throughput = self.get(THROUGHPUT)
        return throughput if hint_for(n_items, throughput.requests) == THROUGHPUT else self.get(LATENCY)

    def wait_all(self) -> None:
        """Wait for every request of every compiled mode."""
        for mode in self._modes.values():
            mode.queue.wait_all()

    def compiled(self) -> dict[str, Mode]:
        """The modes compiled so far, by hint."""
        return dict(self._modes)


__all__ = ["LATENCY", "THROUGHPUT", "Mode", "Modes", "hint_for"]

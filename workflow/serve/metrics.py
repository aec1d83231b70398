"""Prometheus text-format metrics of the server: request counts, errors, batch sizes, latency."""

from __future__ import annotations

import threading
from collections.abc import Iterable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str):
        self.name, self.help = name, help_text
        self._values: dict[tuple[tuple[str, str], ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            items = sorted(self._values.items())
        for key, value in items:
            yield f"{self.name}{_labels(key)} {_num(value)}"


class Gauge(Counter):
    """A value that goes up and down."""

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[tuple(sorted(labels.items()))] = float(value)

    def render(self) -> Iterable[str]:
        for line in super().render():
            yield line.replace(" counter", " gauge") if line.startswith("# TYPE") else line


class Histogram:
    """Cumulative buckets, sum and count of observed values (no labels)."""

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]):
        self.name, self.help, self.buckets = name, help_text, tuple(sorted(buckets))
        self._counts = [0] * len(self.buckets)
        self._sum, self._count = 0.0, 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1

    def snapshot(self) -> dict[str, float]:
        """``{"le": count}`` (cumulative) plus ``count`` and ``sum``; for tests and the page."""
        with self._lock:
            out = {_num(b): float(c) for b, c in zip(self.buckets, self._counts)}
            out.update(count=float(self._count), sum=self._sum)
        return out

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            counts, total, count = list(self._counts), self._sum, self._count
        for bound, c in zip(self.buckets, counts):
            yield f'{self.name}_bucket{{le="{_num(bound)}"}} {c}'
        yield f'{self.name}_bucket{{le="+Inf"}} {count}'
        yield f"{self.name}_sum {_num(total)}"
        yield f"{self.name}_count {count}"


class ServeMetrics:
    """Every metric the server exports."""

    def __init__(self):
        self.requests = Counter("workflow_serve_requests_total", "HTTP requests by path and status code")
        self.errors = Counter("workflow_serve_errors_total", "Requests that failed, by reason")
        self.items = Counter("workflow_serve_items_total", "Items run through the pipeline")
        self.batch_size = Histogram("workflow_serve_batch_size", "Items per pipeline call", BATCH_BUCKETS)
        self.latency = Histogram(
            "workflow_serve_request_latency_seconds",
            "Time from request to response of POST /run",
            LATENCY_BUCKETS,
        )
        self.queue = Gauge("workflow_serve_queue_depth", "Items waiting for a batch")

    def render(self) -> str:
        parts = (self.requests, self.errors, self.items, self.batch_size, self.latency, self.queue)
        return "\n".join(line for metric in parts for line in metric.render()) + "\n"

"""Settings of one server: address, batching, limits, token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeConfig:
    """What ``workflow serve`` was asked for (see its ``--help``)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 8
    max_wait_ms: float = 10.0
    worker_threads: int = 2  # decoding threads
    token: str | None = None  # bearer token required on /run, /pipeline and /metrics
    max_body_bytes: int = 20 * 1024 * 1024
    max_queue: int = 64  # items waiting for a batch before 503
    max_pixels: int | None = None  # decompression-bomb limit (default: WORKFLOW_MAX_IMAGE_PIXELS / PIL's)
    max_url_bytes: int = 50 * 1024 * 1024
    graceful_timeout_s: float = 30.0
    retry_after_s: int = 1

    def check(self) -> None:
        """Raises ValueError naming the first setting out of range."""
        for name, value, low in (
            ("max_batch", self.max_batch, 1),
            ("worker_threads", self.worker_threads, 1),
            ("max_queue", self.max_queue, 1),
            ("max_body_bytes", self.max_body_bytes, 1),
            ("port", self.port, 0),
            ("max_wait_ms", self.max_wait_ms, 0),
        ):
            if value < low:
                raise ValueError(f"{name} must be >= {low} (got {value})")
        if self.port > 65535:
            raise ValueError(f"port must be <= 65535 (got {self.port})")

"""Dynamic batching: concurrent requests gathered into one pipeline call.

Requests are queued; one worker task takes the first waiting job, then waits at most
``max_wait_s`` for more (up to ``max_batch``) and hands the batch to ``run_batch`` in a
single dedicated thread. It waits only while more jobs are known to be coming (requests
being read or decoded, see :meth:`Batcher.expect`), so a lone request never waits (the model is called by one
thread at a time). While a batch runs,
new jobs queue up and form the next batch. A full queue refuses new jobs (:class:`QueueFull`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More jobs are waiting than the server accepts; the client should retry later."""


@dataclass
class Job:
    """One request's item: the workflow inputs, its parameter overrides and where its result goes."""

    inputs: dict[str, Any]
    overrides: tuple = ()
    future: asyncio.Future | None = None
    enqueued: float = field(default_factory=time.perf_counter)
    started: float = 0.0


class Batcher:
    """Gathers jobs into batches of up to ``max_batch`` and runs them one batch at a time.

    Args:
        run_batch: called in the worker thread with a list of jobs; returns one result per job
            (a result may be an exception instance, delivered to that job alone).
        on_batch: called with the size of every batch (metrics).
    """

    def __init__(
        self,
        run_batch: Callable[[list[Job]], list[Any]],
        max_batch: int,
        max_wait_s: float,
        max_queue: int,
        on_batch: Callable[[int], None] | None = None,
    ):
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError(
                f"batching needs max_batch >= 1, max_queue >= 1, max_wait >= 0 "
                f"(got {max_batch}, {max_queue}, {max_wait_s})"
            )
        self.run_batch, self.max_batch, self.max_wait_s, self.max_queue = (
            run_batch,
            max_batch,
            max_wait_s,
            max_queue,
        )
        self.on_batch = on_batch or (lambda n: None)
        self._queue: asyncio.Queue[Job | None] | None = None
        self._worker: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serve-batch")
        self.waiting = 0  # jobs queued, not yet in a batch
        self.coming = 0  # requests being read or decoded, whose job will follow

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._loop(), name="serve-batcher")

    async def stop(self) -> None:
        """Run every job already queued, then stop the worker."""
        if self._worker is None:
            return
        await self._queue.put(None)
        await self._worker
        self._worker = None
        self._thread.shutdown(wait=True)

    @contextmanager
    def expect(self) -> Iterator[None]:
        """Around reading and decoding a request: tells the worker a job is coming, worth waiting for."""
        self.coming += 1
        try:
            yield
        finally:
            self.coming -= 1

    async def submit(self, inputs: dict[str, Any], overrides: tuple = ()) -> Any:
        """Queue one item and wait for its result.

        Raises:
            QueueFull: ``max_queue`` jobs are already waiting.
            RuntimeError: the batcher is not running.
        """
        if self._worker is None or self._queue is None:
            raise RuntimeError("the batcher is not running")
        if self.waiting >= self.max_queue:
            raise QueueFull(f"{self.waiting} items are waiting (limit {self.max_queue})")
        job = Job(inputs, overrides, asyncio.get_running_loop().create_future())
        self.waiting += 1
        await self._queue.put(job)
        result = await job.future
        if isinstance(result, BaseException):
            raise result
        return result

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.perf_counter() + self.max_wait_s
            while len(batch) < self.max_batch:
                left = deadline - time.perf_counter()
                if self._queue.empty() and self.coming == 0:
                    left = 0  # nothing else is on its way: run now
                try:
                    job = (
                        self._queue.get_nowait()
                        if left <= 0
                        else await asyncio.wait_for(self._queue.get(), left)
                    )
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self.waiting -= len(batch)
            await self._run(loop, batch)
        while not self._queue.empty():  # jobs that came with the stop signal still get an answer
            job = self._queue.get_nowait()
            if job is not None:
                self.waiting -= 1
                await self._run(loop, [job])

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[Job]) -> None:
        self.on_batch(len(batch))
        now = time.perf_counter()
        for job in batch:
            job.started = now
        try:
            results = await loop.run_in_executor(self._thread, self.run_batch, batch)
        except Exception as exc:  # a failure of the whole batch reaches every job of it
            log.error("batch of %d failed: %s", len(batch), exc)
            results = [exc] * len(batch)
        for job, result in zip(batch, results):
            if not job.future.done():
                job.future.set_result(result)

"""The batcher alone: batch bounds, no wait for a lone job, per-job exceptions, queue limit, drain on stop."""

from __future__ import annotations

import asyncio
import time

import pytest

from workflow.serve.batching import Batcher, QueueFull


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def echo_batcher(sizes: list[int], delay: float = 0.0, **kw) -> Batcher:
    def run_batch(jobs):
        sizes.append(len(jobs))
        time.sleep(delay)
        return [ValueError("bad") if j.inputs.get("bad") else j.inputs["x"] * 2 for j in jobs]

    return Batcher(
        run_batch, kw.pop("max_batch", 4), kw.pop("max_wait_s", 0.05), kw.pop("max_queue", 100), **kw
    )


def test_batches_are_bounded_and_results_go_to_their_job():
    sizes: list[int] = []

    async def main():
        b = echo_batcher(sizes, delay=0.05)
        await b.start()
        results = await asyncio.gather(*[b.submit({"x": i}) for i in range(10)])
        await b.stop()
        return results

    assert run(main()) == [i * 2 for i in range(10)]
    assert max(sizes) == 4 and sum(sizes) == 10 and len(sizes) <= 4


def test_a_lone_job_does_not_wait_for_the_batch_to_fill():
    sizes: list[int] = []

    async def main():
        b = echo_batcher(sizes, max_wait_s=2.0)
        await b.start()
        start = time.perf_counter()
        await b.submit({"x": 1})
        took = time.perf_counter() - start
        with b.expect():  # a job announced as coming is waited for (up to max_wait)
            first = asyncio.ensure_future(b.submit({"x": 2}))
            await asyncio.sleep(0.2)
            second = asyncio.ensure_future(b.submit({"x": 3}))
        await asyncio.gather(first, second)
        await b.stop()
        return took

    assert run(main()) < 0.5
    assert sizes == [1, 2]


def test_an_exception_reaches_only_its_job():
    sizes: list[int] = []

    async def main():
        b = echo_batcher(sizes)
        await b.start()
        out = await asyncio.gather(
            b.submit({"x": 1}), b.submit({"bad": True}), b.submit({"x": 3}), return_exceptions=True
        )
        await b.stop()
        return out

    ok1, bad, ok3 = run(main())
    assert (ok1, ok3) == (2, 6) and isinstance(bad, ValueError)


def test_queue_limit_and_drain_on_stop():
    sizes: list[int] = []

    async def main():
        b = echo_batcher(sizes, delay=0.2, max_batch=1, max_queue=2)
        await b.start()
        jobs = [asyncio.ensure_future(b.submit({"x": i})) for i in range(4)]
        await asyncio.sleep(0.05)  # jobs 0-1 were queued before the worker ran; 2-3 found the queue full
        stop = asyncio.ensure_future(b.stop())
        return await asyncio.gather(*jobs, return_exceptions=True), await stop

    results, _ = run(main())
    assert results[:2] == [0, 2] and all(
        isinstance(r, QueueFull) for r in results[2:]
    )  # job 1 ran after stop()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_batch >= 1"):
        Batcher(lambda jobs: [], 0, 0.01, 10)

"""Reading ahead in background threads: ordered prefetch through a pool, and a bounded background iterator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


def prefetch(fn: Callable[[Any], Any], args: Iterable[Any], window: int, workers: int) -> Iterator[Any]:
    """``fn(arg)`` for each arg, in order, computed up to ``window`` items ahead by ``workers`` threads."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="workflow-decode")
    pending: deque = deque()
    args = iter(args)
    try:
        for arg in args:
            pending.append(pool.submit(fn, arg))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            for arg in args:  # top the window up by one
                pending.append(pool.submit(fn, arg))
                break
            yield result
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def background(iterable: Iterable[Any], maxsize: int) -> Iterator[Any]:
    """Iterate ``iterable`` in a thread, at most ``maxsize`` items ahead of the consumer (errors are re-raised
    here)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for value in iterable:
                while not stop.is_set():
                    try:
                        q.put((value, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # handed to the consumer
            q.put((end, exc))

    thread = threading.Thread(target=produce, name="workflow-reader", daemon=True)
    thread.start()
    try:
        while True:
            value, exc = q.get()
            if value is end:
                if exc is not None:
                    raise exc
                return
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)

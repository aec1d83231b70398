"""The actor pool under the Ray engine: results in input order, bounded queues, a lost actor's call
retried."""

from __future__ import annotations

import os
import time

import pytest


class Echo:
    """Sleeps a batch-dependent time (so calls finish out of order) and reports which process ran the
    batch."""

    def __init__(self, crash_marker: str | None = None, always: bool = False):
        self.crash_marker, self.always = crash_marker, always

    def __call__(self, batch: list[int]) -> tuple[list[int], int]:
        if self.crash_marker and 7 in batch and (self.always or not os.path.exists(self.crash_marker)):
            with open(self.crash_marker, "a") as fp:
                fp.write("x")
            os._exit(1)  # the process dies mid-call (once, or on every try)
        time.sleep(0.05 * (batch[0] % 3))
        return [2 * x for x in batch], os.getpid()


def test_results_come_back_in_input_order_from_every_actor(ray_cluster):
    from workflow.ray_engine.pool import ActorPool

    batches = [[i, i + 100] for i in range(12)]
    with ActorPool(Echo, (), size=2, cpus=1) as pool:
        results = list(pool.map(iter(batches)))
    assert [r[0] for r in results] == [[2 * i, 2 * i + 200] for i in range(12)]
    assert len({pid for _, pid in results}) == 2  # both actors took work


def test_batches_are_pulled_lazily(ray_cluster):
    """No more batches are taken than there are actors ahead of what has been yielded."""
    from workflow.ray_engine.pool import ActorPool

    taken = []

    def batches():
        for i in range(20):
            taken.append(i)
            yield [i]

    with ActorPool(Echo, (), size=2, cpus=1) as pool:
        it = pool.map(batches())
        assert next(it)[0] == [0]
        assert len(taken) <= 1 + 2
        assert [r[0][0] for r in it] == [2 * i for i in range(1, 20)]


def test_a_call_whose_actor_dies_is_retried_on_the_restarted_actor(ray_cluster, tmp_path):
    from workflow.ray_engine.pool import ActorPool

    marker = tmp_path / "crashed"
    with ActorPool(Echo, (str(marker),), size=2, cpus=1) as pool:
        results = list(pool.map([[i] for i in range(10)]))
    assert marker.exists()  # batch [7] killed its actor once
    assert [r[0] for r in results] == [[2 * i] for i in range(10)]


def test_the_pool_frees_its_cpus_on_exit(ray_cluster):
    from workflow.ray_engine.pool import ActorPool

    with pytest.raises(RuntimeError, match="stop"):
        with ActorPool(Echo, (), size=2, cpus=1) as pool:
            next(pool.map([[1], [2]]))
            raise RuntimeError("stop")
    deadline = time.monotonic() + 30
    while ray_cluster.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray_cluster.available_resources().get("CPU", 0) == 2


def test_a_batch_that_kills_its_actor_every_time_is_lost_alone(ray_cluster, tmp_path):
    """The batch fails after Ray's retries; its actor is replaced and every other batch still runs, in
    order."""
    from workflow.ray_engine.pool import RESTARTS, ActorPool, Lost

    marker = tmp_path / "crashes"
    with ActorPool(Echo, (str(marker), True), size=2, cpus=1) as pool:
        results = list(pool.map([[i] for i in range(10)]))
        assert pool.replacements_left == 1 and len(pool.actors) == 2
    assert len(marker.read_text()) == RESTARTS + 1  # tried once and retried on each restart
    assert isinstance(results[7], Lost) and "died" in results[7].reason
    assert [r[0] for i, r in enumerate(results) if i != 7] == [[2 * i] for i in range(10) if i != 7]


def test_a_pool_whose_actors_all_die_stops_with_one_line(ray_cluster, tmp_path):
    from workflow.core.errors import WorkflowError
    from workflow.ray_engine.pool import ActorPool, Lost

    marker = tmp_path / "crashes"
    with ActorPool(Echo, (str(marker), True), size=1, cpus=1) as pool:
        it = pool.map([[7], [7], [1]])
        assert isinstance(next(it), Lost)  # the actor is replaced once
        assert isinstance(next(it), Lost) and pool.actors == []  # ... and the replacement dies too
        with pytest.raises(
            WorkflowError, match=r"every Ray actor died .* batch 3 and those after it"
        ) as info:
            next(it)
    assert "\n" not in str(info.value)

"""One local Ray for the whole session (2 CPUs, no dashboard), started by the first test that needs it.

Ray comes with the ``ray`` extra, which ``make install`` (and so CI) installs.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    import ray

    from workflow.ray_engine.cluster import init_options

    ray.init(num_cpus=2, **init_options(quiet=True))  # as `workflow run --engine ray` starts it
    yield ray
    ray.shutdown()

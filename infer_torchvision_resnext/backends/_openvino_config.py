"""CPU plugin properties every OpenVINO compile in this package uses: the user's tuning, the engine's thread
budget and the pinning rule.

``$WORKFLOW_OPENVINO_CONFIG`` ("KEY=VALUE,KEY=VALUE") passes properties through, e.g.
``PERFORMANCE_HINT=LATENCY`` or ``INFERENCE_NUM_THREADS=1``. Without ``INFERENCE_NUM_THREADS`` there,
the engine's thread budget (:func:`workflow.core.runtime.thread_budget`: a Ray actor's CPUs) sets it.
OpenVINO pins its threads to cores by default, starting from the first core of the process's CPU
set. A process that runs fewer threads than it may use is one of several sharing the machine (a Ray
actor, a worker given one thread): pinned, they would all sit on the same first cores. Measured on
2 AVX2 cores, two 1-thread processes ran at 3.8 img/s each pinned and 7.3-7.5 unpinned.
So pinning is turned off then, unless ``ENABLE_CPU_PINNING`` is given explicitly.
"""

from __future__ import annotations

import os

from workflow.core import runtime

ENV = "WORKFLOW_OPENVINO_CONFIG"


def user_config() -> dict[str, str]:
    """The properties in ``$WORKFLOW_OPENVINO_CONFIG``, as given."""
    text = os.environ.get(ENV, "").strip()
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    return {k.strip(): v.strip() for k, v in pairs}


def extra_config() -> dict[str, str]:
    """:func:`user_config`, ``INFERENCE_NUM_THREADS`` from the engine's thread budget when the user gave none,
    and ``ENABLE_CPU_PINNING=NO`` when this process runs fewer threads than its CPUs."""
    config = user_config()
    budget = runtime.thread_budget()
    if "INFERENCE_NUM_THREADS" not in config and budget is not None:
        config["INFERENCE_NUM_THREADS"] = str(budget)
    threads = config.get("INFERENCE_NUM_THREADS", "")
    if "ENABLE_CPU_PINNING" not in config and threads.isdigit() and 0 < int(threads) < runtime.usable_cpus():
        config["ENABLE_CPU_PINNING"] = "NO"
    return config

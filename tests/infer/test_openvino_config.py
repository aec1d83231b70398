"""OpenVINO properties: the user's tuning passes through, the engine's thread budget sets the threads; a process
running fewer threads than its CPUs is not pinned."""

from __future__ import annotations

import pytest

from infer_torchvision_resnext.backends import _openvino_config as openvino_config
from infer_torchvision_resnext.backends._openvino_config import extra_config


@pytest.fixture
def cpus(monkeypatch):
    monkeypatch.delenv("WORKFLOW_NUM_THREADS", raising=False)

    def set_cpus(n: int) -> None:
        monkeypatch.setattr(openvino_config.runtime, "usable_cpus", lambda: n)

    return set_cpus


def test_user_properties_pass_through(monkeypatch, cpus):
    cpus(4)
    monkeypatch.setenv("WORKFLOW_OPENVINO_CONFIG", " PERFORMANCE_HINT=LATENCY , NUM_STREAMS=2 ")
    assert extra_config() == {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "2"}
    monkeypatch.delenv("WORKFLOW_OPENVINO_CONFIG")
    assert extra_config() == {}


@pytest.mark.parametrize(
    "threads, cores, pinned", [("1", 2, False), ("3", 8, False), ("2", 2, None), ("4", 2, None)]
)
def test_fewer_threads_than_cpus_turns_pinning_off(monkeypatch, cpus, threads, cores, pinned):
    cpus(cores)
    monkeypatch.setenv("WORKFLOW_OPENVINO_CONFIG", f"INFERENCE_NUM_THREADS={threads}")
    expected = (
        {"INFERENCE_NUM_THREADS": threads}
        if pinned is None
        else {"INFERENCE_NUM_THREADS": threads, "ENABLE_CPU_PINNING": "NO"}
    )
    assert extra_config() == expected


def test_an_explicit_pinning_choice_stays(monkeypatch, cpus):
    cpus(8)
    monkeypatch.setenv("WORKFLOW_OPENVINO_CONFIG", "INFERENCE_NUM_THREADS=1,ENABLE_CPU_PINNING=YES")
    assert extra_config()["ENABLE_CPU_PINNING"] == "YES"


def test_the_engines_thread_budget_sets_the_threads_unless_the_user_did(monkeypatch, cpus):
    cpus(4)
    monkeypatch.setenv("WORKFLOW_NUM_THREADS", "2")
    assert extra_config() == {"INFERENCE_NUM_THREADS": "2", "ENABLE_CPU_PINNING": "NO"}
    monkeypatch.setenv("WORKFLOW_OPENVINO_CONFIG", "PERFORMANCE_HINT=LATENCY,INFERENCE_NUM_THREADS=4")
    assert extra_config() == {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": "4"}
    monkeypatch.setenv("WORKFLOW_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="WORKFLOW_NUM_THREADS is 'two'; expected a positive whole number"):
        extra_config()


def test_a_ray_actor_of_one_cpu_compiles_unpinned(monkeypatch, cpus):
    """The environment a 1-CPU Ray actor gets gives a compiled model with one thread and no pinning."""
    ov = pytest.importorskip("openvino")
    import numpy as np
    from openvino import opset13 as ops

    from workflow.ray_engine.threads import thread_env

    cpus(2)
    monkeypatch.delenv("WORKFLOW_OPENVINO_CONFIG", raising=False)
    for name, value in thread_env(1).items():
        monkeypatch.setenv(name, value)
    x = ops.parameter([1, 4], np.float32)
    model = ov.Model([ops.relu(x)], [x])
    compiled = ov.Core().compile_model(model, "CPU", extra_config())
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert compiled.get_property("ENABLE_CPU_PINNING") is False

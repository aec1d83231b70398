"""``Workflow.run_on(engine=...)``: engines are found by name and imported on use; bad calls fail with one
line."""

from __future__ import annotations

import sys

import pytest

from workflow import Workflow
from workflow.core.errors import InputError
from workflow.run.engines import ENGINES, engine_names


def test_engine_names_list_local_first_then_ray():
    assert engine_names() == ["local", "ray"] and ENGINES["ray"] == "workflow.ray_engine:run_on_ray"


@pytest.mark.parametrize(
    "source, message",
    [
        ({"path": "a.jpg"}, r"engine 'ray' runs folders: give folder= \(got path\)"),
        ({}, r"engine 'ray' runs folders: give folder= \(got no folder\)"),
        ({"folder": "x", "workers": 2}, r"'workers' is a local option \(use actors=\)"),
    ],
)
def test_ray_engine_rejects_what_it_does_not_run(source, message):
    with pytest.raises(InputError, match=message):
        Workflow().run_on(engine="ray", **source)


def test_unknown_engine_names_the_known_ones():
    with pytest.raises(InputError, match=r"^run_on: unknown engine 'spark'; known: local, ray$"):
        Workflow().run_on(folder="x", engine="spark")


def test_engine_dispatch_imports_the_named_function(monkeypatch, tmp_path):
    calls = []
    module = type(sys)("fake_engine")
    module.run = lambda graph, folder, **options: calls.append((graph, folder, options)) or FakeReport()
    monkeypatch.setitem(sys.modules, "fake_engine", module)
    monkeypatch.setitem(ENGINES, "fake", "fake_engine:run")
    wf = Workflow()
    report = wf.run_on(folder=tmp_path, engine="fake", output_dir=tmp_path / "out", actors=3)
    assert calls == [(wf, tmp_path, {"output_dir": tmp_path / "out", "actors": 3})]
    assert wf.get_task_seconds() == {"classify": 1.5, "total": 1.5} and report.processed == 0


class FakeReport:
    processed = 0
    elapsed = 1.5
    times = {"classify": 1.5}
    outputs: dict = {}

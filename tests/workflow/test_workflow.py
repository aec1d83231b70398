from __future__ import annotations

import numpy as np
import pytest

from tests.workflow.tasks_for_tests import Invert, MakeModel, make_registry
from workflow import GraphError, ParamError, PluginError, PortError, TaskRunError, Workflow
from workflow.graph.graph import INPUTS, Edge


@pytest.fixture
def wf() -> Workflow:
    return Workflow(registry=make_registry())


def image(value: int) -> np.ndarray:
    return np.full((4, 5, 3), value, np.uint8)


def test_add_task_by_name_returns_the_task_with_params(wf):
    task = wf.add_task(name="invert", params={"amount": "100"}, auto_connect=True)
    assert isinstance(task, Invert) and task.params.amount == 100
    assert wf.get_task("invert") is task


def test_unknown_task_name_suggests(wf):
    with pytest.raises(PluginError, match=r"unknown task 'invrt' \(did you mean 'invert'\?\)"):
        wf.add_task(name="invrt")


def test_bad_params_at_add_time_name_the_task(wf):
    with pytest.raises(ParamError, match=r"task 'invert': unknown parameter 'amont'"):
        wf.add_task(name="invert", params={"amont": 1})


def test_ids_are_unique_and_name_lookup_is_ambiguous_for_duplicates(wf):
    a = wf.add_task(name="invert", auto_connect=True)
    b = wf.add_task(name="invert", auto_connect=True)
    assert (a.id, b.id) == ("invert", "invert_1")
    assert wf.get_task("invert_1") is b
    with pytest.raises(GraphError, match="no task 'nope'"):
        wf.get_task("nope")


def test_auto_connect_takes_the_most_recent_compatible_output(wf):
    first = wf.add_task(name="invert", auto_connect=True)
    second = wf.add_task(name="invert", auto_connect=True)
    clf = wf.add_task(name="mean_classifier", auto_connect=True)
    assert Edge(INPUTS, "image", first.id, "image") in wf.edges
    assert Edge(first.id, "image", second.id, "image") in wf.edges
    assert Edge(second.id, "image", clf.id, "image") in wf.edges, (
        "must pick the latest of two compatible outputs"
    )


def test_auto_connect_skips_incompatible_and_fills_optional_inputs(wf):
    trainer = wf.add_task(name="make_model", auto_connect=True)
    clf = wf.add_task(name="mean_classifier", auto_connect=True)
    assert Edge(trainer.id, "model", clf.id, "model") in wf.edges
    assert Edge(INPUTS, "image", clf.id, "image") in wf.edges


def test_optional_input_stays_empty_without_a_match(wf):
    clf = wf.add_task(name="mean_classifier", auto_connect=True)
    assert [e.dst_port for e in wf.edges if e.dst == clf.id] == ["image"]


def test_required_input_without_match_names_task_port_and_offers():
    wf = Workflow(inputs={}, registry=make_registry())
    wf.add_task(name="make_model", auto_connect=True)
    with pytest.raises(
        PortError,
        match=r"task 'invert': required input 'image' \(image\) has no compatible output.*"
        r"on offer: \$steps.make_model.model \(model\), \$steps.make_model.metrics \(table\)",
    ):
        wf.add_task(name="invert", auto_connect=True)
    assert [t.id for t in wf.tasks] == ["make_model"], "a failed add must not leave a half-wired task"


def test_explicit_edge_is_type_checked(wf):
    trainer = wf.add_task(name="make_model")
    inv = wf.add_task(name="invert")
    with pytest.raises(
        PortError,
        match=r"task 'invert': input 'image' \(image\) cannot take \$steps.make_model.model \(model\)",
    ):
        wf.connect(trainer, inv, {"model": "image"})
    with pytest.raises(PortError, match="has no output port 'modle'.*did you mean 'model'"):
        wf.connect(trainer, inv, {"modle": "image"})


def test_connect_without_ports_auto_connects_from_that_source_only(wf):
    a = wf.add_task(name="invert", auto_connect=True)
    b = wf.add_task(name="invert", auto_connect=True)
    c = wf.add_task(name="mean_classifier")
    wf.connect(a, c)
    assert Edge(a.id, "image", c.id, "image") in wf.edges
    assert not any(e.src == b.id and e.dst == c.id for e in wf.edges)


def test_cycle_is_reported_with_its_tasks(wf):
    a = wf.add_task(name="invert")
    b = wf.add_task(name="invert")
    wf.connect(a, b, {"image": "image"})
    wf.connect(b, a, {"image": "image"})
    with pytest.raises(GraphError, match=r"has a cycle: invert(_1)? -> invert(_1)? -> invert"):
        wf.validate()


def test_validate_reports_unconnected_required_input(wf):
    wf.add_task(name="invert")
    with pytest.raises(GraphError, match=r"task 'invert': required input 'image' \(image\) is not connected"):
        wf.validate()


def test_run_returns_outputs_and_time_metrics(wf):
    wf.add_task(name="invert", params={"amount": 200}, auto_connect=True)
    out = wf.run(image=image(50))
    assert (out["image"] == 150).all()
    seconds = wf.get_task_seconds()
    assert set(seconds) == {"invert", "total"} and seconds["total"] >= seconds["invert"] >= 0
    metrics = wf.get_time_metrics()  # Ikomia's shape, in milliseconds
    assert set(metrics) == {"total_time", "invert"}
    assert metrics["invert"]["task_time"] == pytest.approx(seconds["invert"] * 1000)
    assert metrics["invert"]["time_from_start"] == metrics["invert"]["task_time"] <= metrics["total_time"]


def test_run_twice_gives_fresh_outputs(wf):
    inv = wf.add_task(name="invert", auto_connect=True)
    wf.run(image=image(5))
    wf.run(image=image(250))
    assert (inv.get_output("image").data == 5).all()
    with pytest.raises(PortError, match="received no data"):
        wf.run()


def test_static_tasks_run_once_per_batch_and_feed_every_item(wf):
    MakeModel.runs = 0
    wf.add_task(name="make_model", auto_connect=True)
    wf.add_task(name="mean_classifier", auto_connect=True)
    assert wf.per_item_tasks() == {"mean_classifier"}
    results = wf.run_items([{"image": image(v)} for v in (0, 255, 128)])
    assert MakeModel.runs == 1
    assert [r.outputs["classification"].top.label for r in results] == ["dark", "bright", "bright"]


def test_a_failing_item_is_isolated_and_the_batch_carries_on(wf):
    wf.add_task(name="fail_on_13", auto_connect=True)
    wf.add_task(name="invert", auto_connect=True)
    results = wf.run_items([{"image": image(v)} for v in (1, 13, 2)])
    assert results[1].error == "task 'fail_on_13' failed: ValueError: pixel 13 is unlucky"
    assert [r.error for r in (results[0], results[2])] == [None, None]
    assert (results[2].outputs["image"] == 253).all()


def test_run_raises_task_errors_naming_the_task(wf):
    wf.add_task(name="fail_on_13", auto_connect=True)
    with pytest.raises(TaskRunError, match="task 'fail_on_13' failed: ValueError: pixel 13"):
        wf.run(image=image(13))


def test_remove_task_drops_its_edges_and_outputs(wf):
    a = wf.add_task(name="invert", auto_connect=True)
    b = wf.add_task(name="invert", auto_connect=True)
    wf.add_output("result", b, "image")
    wf.remove_task(b)
    assert wf.tasks == [a] and all(b.id not in (e.src, e.dst) for e in wf.edges) and wf.outputs == {}


def test_declared_outputs_select_what_run_returns(wf):
    a = wf.add_task(name="invert", params={"amount": 100}, auto_connect=True)
    wf.add_task(name="invert", auto_connect=True)
    wf.add_output("first", a, "image")
    assert list(wf.run(image=image(0))) == ["first"]

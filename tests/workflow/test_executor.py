"""The executor: static tasks run once per run, and every value is checked once per step."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workflow import GraphError, Port, PortError, Task, Workflow
from workflow.core import ports
from workflow.graph.executor import execute

from .tasks_for_tests import MakeModel, make_registry


class CountingImage(ports.Image):
    """An Image type that counts its checks."""

    checks = 0

    @classmethod
    def check(cls, value):
        CountingImage.checks += 1
        return super().check(value)


class Relay(Task):
    """Passes its image on (through set_output, which checks it once)."""

    name = "relay"
    inputs = (Port("image", CountingImage),)
    outputs = (Port("image", CountingImage),)

    def run(self) -> None:
        self.set_output("image", self.get_input("image").data)


class RawBatch(Task):
    """Returns its outputs from run_batch without set_output: the executor checks them."""

    name = "raw_batch"
    inputs = (Port("image", CountingImage),)
    outputs = (Port("image", CountingImage),)

    def run_batch(self, items):
        return [{"image": item["image"]} for item in items]


def _workflow(*tasks: type[Task]) -> Workflow:
    reg = make_registry()
    for cls in tasks:
        reg.register(cls)
    wf = Workflow(inputs={"image": CountingImage}, registry=reg)
    return wf


def test_static_tasks_run_once_per_folder_run_whatever_the_batch_count(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((8, 8, 3), 40 * i, np.uint8))
    wf = Workflow(registry=make_registry())
    wf.add_task(name="make_model")
    wf.add_task(name="mean_classifier", auto_connect=True)
    MakeModel.runs = 0
    report = wf.run_on(folder=folder, output_dir=tmp_path / "out", batch_size=2)
    assert report.processed == 5 and MakeModel.runs == 1


def test_each_value_is_checked_once_per_step():
    wf = _workflow(Relay)
    wf.add_task(name="relay", task_id="a", auto_connect=True)
    wf.add_task(name="relay", task_id="b", auto_connect=True)
    CountingImage.checks = 0
    wf.run(image=np.zeros((4, 4, 3), np.uint8))
    # the workflow input as it enters, then each task's output as it leaves: 3 checks, not 5
    assert CountingImage.checks == 3


def test_outputs_returned_without_set_output_are_still_checked():
    wf = _workflow(RawBatch)
    wf.add_task(name="raw_batch", auto_connect=True)
    CountingImage.checks = 0
    wf.run(image=np.zeros((4, 4, 3), np.uint8))
    assert CountingImage.checks == 2  # input entering, output leaving
    bad = _workflow(RawBatch)
    task = bad.add_task(name="raw_batch", auto_connect=True)
    task.run_batch = lambda items: [{"image": "not an image"} for _ in items]
    with pytest.raises(
        PortError, match=r"task 'raw_batch': output 'image' \(image\): expected a numpy array"
    ):
        bad.run(image=np.zeros((4, 4, 3), np.uint8))


def test_a_bad_workflow_input_is_refused_naming_the_input():
    wf = _workflow(Relay)
    wf.add_task(name="relay", auto_connect=True)
    with pytest.raises(PortError, match=r"workflow input 'image' \(image\): expected an HxWx3 uint8"):
        wf.run(image=np.zeros((4, 4), np.uint8))


def test_execute_refuses_to_run_before_the_static_tasks():
    wf = Workflow(registry=make_registry())
    wf.add_task(name="make_model")
    wf.add_task(name="mean_classifier", auto_connect=True)
    with pytest.raises(GraphError, match=r"static task\(s\) make_model have not run"):
        execute(wf, [{"image": np.zeros((4, 4, 3), np.uint8)}], True, {}, {})

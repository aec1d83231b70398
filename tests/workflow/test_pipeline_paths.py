"""Relative paths in pipeline files, `validate` checking them, and a results.csv header that depends on the
pipeline only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.workflow.tasks_for_tests import make_registry
from workflow import Port, Task, TaskParams
from workflow.core import ports
from workflow.core.params import path_field
from workflow.pipeline.build import validate_file
from workflow.workflow import Workflow


class LabelParams(TaskParams):
    label_file: str | None = path_field(None, description="one label per line")
    out_folder: str | None = path_field(None, must_exist=False, description="where notes would go")


class FirstLabel(Task):
    """Classifies every image as the first label of its label file."""

    name = "first_label"
    Params = LabelParams
    inputs = (Port("image", ports.Image),)
    outputs = (Port("classification", ports.Classification),)

    def run(self) -> None:
        label = Path(self.params.label_file).read_text().split()[0]
        self.set_output("classification", [(label, 1.0)])


PIPE = """version: 1
name: labels
inputs:
  image: {type: image}
tasks:
  - id: label
    task: first_label
    params: {label_file: labels.txt, out_folder: notes}
"""


def registry():
    reg = make_registry()
    reg.register(FirstLabel)
    return reg


def test_relative_paths_in_a_pipeline_are_read_from_its_folder_whatever_the_working_directory(
    tmp_path, monkeypatch
):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipe.yaml").write_text(PIPE)
    (folder / "labels.txt").write_text("zebra\nhorse\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    wf = Workflow.load(Path("..") / "project" / "pipe.yaml", registry())
    task = wf.get_task("label")
    assert task.params.label_file == str(folder / "labels.txt") and task.params.out_folder == str(
        folder / "notes"
    )
    assert wf.run(image=np.zeros((4, 4, 3), np.uint8))["classification"].top.label == "zebra"
    assert validate_file(folder / "pipe.yaml", registry()) == []
    wf.save(folder / "copy.yaml")  # saved beside it: the same relative text
    assert "label_file: labels.txt" in (folder / "copy.yaml").read_text()
    task.set_parameters({"label_file": "labels.txt"})  # scripts keep the working directory
    assert task.params.label_file == "labels.txt"


def test_validate_names_the_task_and_parameter_of_a_missing_path(tmp_path):
    (tmp_path / "pipe.yaml").write_text(PIPE)
    problems = [str(p) for p in validate_file(tmp_path / "pipe.yaml", registry())]
    assert problems == [
        f"{tmp_path / 'pipe.yaml'}:8: task 'label': params.label_file: '{tmp_path / 'labels.txt'}' does not "
        f"exist (relative paths in a pipeline file are read from the file's folder)"
    ]


def write_images(folder: Path, good: int, bad: int) -> None:
    folder.mkdir(parents=True)
    for i in range(good):
        PILImage.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"good{i}.png")
    for i in range(bad):
        (folder / f"bad{i}.png").write_bytes(b"not a png")


def header(path: Path) -> list[str]:
    with open(path, newline="") as fp:
        return next(csv.reader(fp))


@pytest.mark.parametrize("task", ["mean_classifier", "make_model"])
def test_results_csv_header_comes_from_the_declared_outputs(tmp_path, task):
    write_images(tmp_path / "good", good=2, bad=0)
    write_images(tmp_path / "bad", good=0, bad=2)
    headers = []
    for name in ("good", "bad"):
        wf = Workflow(registry=make_registry())
        wf.add_task(task, auto_connect=True)
        if task == "make_model":  # static task + a per-image one: two outputs, prefixed columns
            wf.add_task("mean_classifier", auto_connect=True)
            wf.add_output("model", "make_model", 0)
            wf.add_output("verdict", "mean_classifier", 0)
        report = wf.run_on(folder=tmp_path / name, output_dir=tmp_path / f"out_{name}")
        headers.append(header(report.results_csv))
    assert headers[0] == headers[1]
    expected = {
        "mean_classifier": ["path", "label", "score", "top_k"],
        "make_model": ["path", "model.value", "verdict.label", "verdict.score", "verdict.top_k"],
    }[task]
    assert headers[0] == expected

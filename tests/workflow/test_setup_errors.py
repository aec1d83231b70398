"""Setup errors stop a run at once (one line, exit 1); per-image failures are reported and the run carries
on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflow.tasks_for_tests import make_registry
from workflow import Port, Task, Workflow
from workflow.cli import main
from workflow.core import ports
from workflow.core.errors import SetupError
from workflow.core.results import ClassificationResult, ClassScore
from workflow.run.runner import run_on

TASKS = """
import os
from workflow import Port, Task
from workflow.core.errors import SetupError
from workflow.core.ports import Classification, Image
from workflow.core.results import ClassificationResult, ClassScore


def _count(what):
    with open(os.environ["SETUP_TEST_LOG"], "a") as fp:
        fp.write(what + "\\n")


class _Base(Task):
    inputs = (Port("image", Image),)
    outputs = (Port("classification", Classification),)

    def run(self):
        _count("run")
        value = int(self.get_input("image").data[0, 0, 0])
        self.set_output("classification", ClassificationResult([ClassScore(str(value), value, 1.0)]))


class PrepareFails(_Base):
    name = "prepare_fails"

    def prepare(self, inputs):
        _count("prepare")
        raise SetupError(f"task '{self.id}': weights: resnext50.pth is not cached and cannot be downloaded")


class RunFails(_Base):
    name = "run_fails"

    def run_batch(self, items):
        _count("run_batch")
        raise SetupError(f"task '{self.id}': class_file: classes.txt cannot be read")


class OddFails(_Base):
    name = "odd_fails"

    def run(self):
        if int(self.get_input("image").data[0, 0, 0]) % 2:
            raise ValueError("odd pixel")
        super().run()
"""


def pipeline(task: str) -> str:
    return f"version: 1\nname: setup-test\ninputs: {{image: {{type: image}}}}\ntasks:\n  - {{id: cls, task: {task}}}\n"


@pytest.fixture
def folder(tmp_path) -> Path:
    """50 tiny PNGs, pixel value = index."""
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(50):
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(root / f"img{i:02d}.png")
    return root


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "setup_test_tasks.py").write_text(TASKS)
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(plugins))
    monkeypatch.setenv("SETUP_TEST_LOG", str(tmp_path / "calls.log"))
    monkeypatch.chdir(tmp_path)
    for task in ("prepare_fails", "run_fails", "odd_fails"):
        (tmp_path / f"{task}.yaml").write_text(pipeline(task))
    return tmp_path / "calls.log"


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """The names of the files the folder source decodes."""
    import workflow.run.sources.folder as folder_source

    names: list[str] = []
    real = folder_source.load_image

    def counting(path, **kwargs):
        names.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(folder_source, "load_image", counting)
    return names


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_a_setup_error_in_prepare_stops_the_folder_run_before_any_image_is_decoded(
    env, folder, decoded, capsys, tmp_path
):
    code = main(["run", "prepare_fails.yaml", "--input", str(folder), "--output", "out"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == "error: task 'cls': weights: resnext50.pth is not cached and cannot be downloaded\n"
    assert calls(env) == ["prepare"] and decoded == []
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (
        report["fatal"]
        == "SetupError: task 'cls': weights: resnext50.pth is not cached and cannot be downloaded"
    )
    assert (report["processed"], report["failed"], report["errors"]) == (0, 0, [])


def test_a_setup_error_while_running_is_raised_once_never_retried_per_image(env, folder, capsys, tmp_path):
    code = main(["run", "run_fails.yaml", "--input", str(folder), "--output", "out"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err == "error: task 'cls': class_file: classes.txt cannot be read\n"
    assert calls(env) == ["run_batch"]  # one batch, not 50 retries
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["fatal"].startswith("SetupError: task 'cls': class_file") and report["failed"] == 0
    assert (
        tmp_path / "out" / "results.csv"
    ).read_text() == "path,label,score,top_k\n"  # the header of the declared outputs


def test_per_image_failures_are_reported_and_the_others_processed(env, folder, capsys, tmp_path):
    code = main(["run", "odd_fails.yaml", "--input", str(folder), "--output", "out"])
    _, err = capsys.readouterr()
    assert code == 3
    assert err.count("warning: path img") == 10 and err.endswith(
        f"error: 25 item(s) failed (listed in {tmp_path / 'out' / 'report.json'})\n"
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["processed"], report["failed"]) == (25, 25) and "fatal" not in report
    assert [e["path"] for e in report["errors"]] == [f"img{i:02d}.png" for i in range(1, 50, 2)]
    assert len((tmp_path / "out" / "results.csv").read_text().splitlines()) == 1 + 25


def test_a_setup_error_from_the_python_api_propagates_after_flushing(env, folder, tmp_path):
    from workflow.plugins.registry import Registry

    wf = Workflow(registry=Registry(use_entry_points=False))
    wf.add_task(name="run_fails", auto_connect=True)
    with pytest.raises(SetupError, match=r"^task 'run_fails': class_file"):
        run_on(wf, folder=folder, output_dir=tmp_path / "api", batch_size=4)
    assert json.loads((tmp_path / "api" / "report.json").read_text())["fatal"].startswith("SetupError")
    with pytest.raises(SetupError, match=r"^task 'run_fails': class_file"):
        wf.run(image=np.zeros((4, 4, 3), np.uint8))


class Recording(Task):
    """Records what prepare() got and when decode_hint() was asked."""

    name = "recording"
    inputs = (Port("image", ports.Image), Port("model", ports.Model, optional=True))
    outputs = (Port("classification", ports.Classification),)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events: list[tuple] = []

    def prepare(self, inputs):
        self.events.append(("prepare", dict(inputs)))

    def decode_hint(self, port):
        self.events.append(("decode_hint", port))
        return None

    def run(self):
        self.events.append(("run",))
        self.set_output("classification", ClassificationResult([ClassScore("x", 0, 1.0)]))


def test_prepare_gets_static_outputs_and_constant_inputs_once_before_decoding(folder, decoded, tmp_path):
    wf = Workflow(registry=make_registry(), inputs={"image": "image", "model": "model"})
    wf.add_task(name="make_model")
    rec = wf.add_task(Recording(), auto_connect=True)
    assert {(e.src, e.src_port, e.dst_port) for e in wf.edges} == {
        ("$inputs", "image", "image"),
        ("make_model", "model", "model"),
    }
    wf.run_on(folder=folder, output_dir=tmp_path / "out", batch_size=8)
    events = [e for e in rec.events if e[0] != "decode_hint"]  # ports carry full-size images: no hint needed
    assert events[0] == ("prepare", {"model": Path("model.pt")})
    assert [e[0] for e in events[1:]] == ["run"] * 50 and len(decoded) == 50

    wf2 = Workflow(registry=make_registry(), inputs={"image": "image", "model": "model"})
    rec2 = wf2.add_task(Recording(), auto_connect=True)
    wf2.run_on(path=folder / "img03.png", extra_inputs={"model": "given.pt"})
    assert [e for e in rec2.events if e[0] != "decode_hint"] == [
        ("prepare", {"model": Path("given.pt")}),
        ("run",),
    ]


def test_prepare_errors_that_are_not_workflow_errors_become_setup_errors_naming_the_task(folder):
    class Broken(Recording):
        name = "broken"

        def prepare(self, inputs):
            raise RuntimeError("cannot build the model")

    wf = Workflow(registry=make_registry())
    wf.add_task(Broken(), auto_connect=True)
    with pytest.raises(
        SetupError, match=r"^task 'broken' failed to prepare: RuntimeError: cannot build the model$"
    ):
        run_on(wf, folder=folder)

"""Ikomia's Workflow methods on our engine: root, get_tasks, find_task, connect_tasks, remove_task,
get_task_output, set_image_input / set_directory_input + run(), folder runs (run folder, folder routing),
get_time_metrics in Ikomia's shape (IkomiaApi ikomia/dataprocess/workflow.py semantics)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflow.tasks_for_tests import make_registry
from workflow import GraphError, InputError, Port, PortError, Task, Workflow
from workflow.core import ports
from workflow.graph.graph import INPUTS, Edge
from workflow.run.runner import folder_input, run_on


class CountFiles(Task):
    """Takes a dataset folder (optional, as training does) and counts the files below it."""

    name = "count_files"
    inputs = (Port("dataset", ports.Dataset, optional=True),)
    outputs = (Port("rows", ports.Table),)
    seen: list = []

    def run(self) -> None:
        folder = self.get_input("dataset").data
        if folder is None:  # no dataset given: nothing to count
            self.set_output("rows", [])
            return
        type(self).seen.append(folder)
        self.set_output("rows", [{"files": sum(1 for p in Path(folder).rglob("*") if p.is_file())}])


class Sleep(Task):
    """Passes the image through after sleeping 20 ms (measurable task times)."""

    name = "sleep"
    inputs = (Port("image", ports.Image),)
    outputs = (Port("image", ports.Image),)

    def run(self) -> None:
        time.sleep(0.02)
        self.set_output("image", self.get_input("image").data)


@pytest.fixture
def reg():
    reg = make_registry()
    reg.register(CountFiles)
    reg.register(Sleep)
    return reg


@pytest.fixture
def wf(reg) -> Workflow:
    return Workflow("ikomia style", registry=reg)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default run folders go under the working folder


def image(value: int, shape=(4, 5, 3)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


def write_images(folder: Path, values: dict[str, int]) -> Path:
    for rel, value in values.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image(value, (6, 8, 3))).save(folder / rel)
    return folder


# -- graph methods ----------------------------------------------------------------------------------------
def test_name_is_the_first_argument_and_get_tasks_starts_with_the_root(wf):
    assert wf.name == "ikomia style" and repr(wf) == "Workflow('ikomia style', 0 task(s))"
    inv = wf.add_task(name="invert", auto_connect=True)
    tasks = wf.get_tasks()
    assert tasks[0] is wf.root() and tasks[1:] == [inv]
    assert tasks[0].name == "root" and repr(tasks[0]) == "Root(inputs: image (image))"


def test_find_task_gives_a_list_or_the_task_at_an_index(wf):
    a = wf.add_task(name="invert", auto_connect=True)
    b = wf.add_task(name="invert", auto_connect=True)
    assert wf.find_task("invert") == [a, b] and wf.find_task("nothing") == []
    assert wf.find_task("invert", 1) is b and wf.find_task("invert_1", 0) is b  # a task id also names it
    with pytest.raises(GraphError, match=r"has 2 task\(s\) named 'invert': no index 2$"):
        wf.find_task("invert", 2)


def test_connect_tasks_from_the_root_automatically_or_by_index_pairs(wf):
    first = wf.add_task(name="invert")
    wf.connect_tasks(wf.root(), first)
    second = wf.add_task(name="invert")
    wf.connect_tasks(None, second, [(0, 0)])
    clf = wf.add_task(name="mean_classifier")
    wf.connect_tasks(second, clf, [(0, 0)])
    assert {Edge(INPUTS, "image", first.id, "image"), Edge(INPUTS, "image", second.id, "image")} <= set(
        wf.edges
    )
    assert Edge(second.id, "image", clf.id, "image") in wf.edges
    out = wf.run(image=image(50))
    assert out["mean_classifier.classification"].top.label == "bright"  # 255 - 50
    with pytest.raises(PortError, match=r"task 'invert' has no output port 3"):
        wf.connect_tasks(first, clf, [(3, 0)])
    with pytest.raises(PortError, match=r"workflow 'ikomia style' has no input 1"):
        wf.connect_tasks(wf.root(), clf, [(1, 0)])
    trainer = wf.add_task(name="make_model")
    with pytest.raises(PortError, match=r"input 'image' \(image\) cannot take \$steps.make_model.model"):
        wf.connect_tasks(trainer, clf, [(0, 0)])


def test_remove_task_by_name_and_index_or_instance_takes_its_edges(wf):
    a = wf.add_task(name="invert", auto_connect=True)
    b = wf.add_task(name="invert", auto_connect=True)
    clf = wf.add_task(name="mean_classifier", auto_connect=True)
    wf.remove_task(name="invert", index=1)
    assert wf.tasks == [a, clf] and all(b.id not in (e.src, e.dst) for e in wf.edges)
    wf.remove_task(task=a)
    assert wf.find_task("invert") == [] and wf.edges == []
    with pytest.raises(GraphError, match=r"no index 0"):
        wf.remove_task(name="invert")
    with pytest.raises(GraphError, match="the root .* cannot be removed"):
        wf.remove_task(wf.root())
    with pytest.raises(GraphError, match="has no task"):
        wf.remove_task(task=a)


def test_get_task_output_selects_outputs_by_exact_type(wf):
    inv = wf.add_task(name="invert", auto_connect=True)  # output: an annotated image
    sleeper = wf.add_task(name="sleep", auto_connect=True)  # output: an image
    wf.run(image=image(5))
    assert wf.get_task_output(task_obj=inv) == []  # Image does not match AnnotatedImage
    [annotated] = wf.get_task_output(task_obj=inv, types=["annotated_image"])
    assert (annotated.get_image() == 250).all()
    one = wf.get_task_output(task_name="sleep", output_index=0)
    assert one.name == "image" and (one.get_image() == 250).all()
    assert [io.name for io in wf.get_task_output(task_name="sleep", task_index=-1)] == ["image"]
    with pytest.raises(PortError, match=r"task 'sleep' has 1 output\(s\) of type image: no output_index 1"):
        wf.get_task_output(task_obj=sleeper, output_index=1)
    with pytest.raises(GraphError, match="needs task_obj= or task_name="):
        wf.get_task_output()


# -- global inputs and run() --------------------------------------------------------------------------------
def test_set_image_input_then_run_and_replace_it_by_index(wf, tmp_path):
    inv = wf.add_task(name="invert", auto_connect=True)
    Image.fromarray(image(10, (7, 9, 3))).save(tmp_path / "a.png")
    wf.set_image_input(path=str(tmp_path / "a.png"))
    wf.run()
    assert inv.get_output(0).get_image().shape == (7, 9, 3) and (inv.get_output(0).data == 245).all()
    wf.set_image_input(array=image(100), index=0)
    wf.run()
    assert (inv.get_output(0).data == 155).all() and list(wf.inputs) == ["image"]
    wf.set_image_input(array=image(1))  # every image input has an image: Ikomia adds an input
    assert list(wf.inputs) == ["image", "image_1"]


def test_set_image_input_refuses_what_cannot_be_an_image(wf, reg, tmp_path):
    with pytest.raises(InputError, match=r"exactly one of array=, path=, url= \(got array, path\)"):
        wf.set_image_input(array=image(1), path="x.png")
    with pytest.raises(InputError, match=r"nope\.png: no such image file"):
        wf.set_image_input(path=str(tmp_path / "nope.png"))
    other = Workflow(inputs={"model": "model"}, registry=reg)
    with pytest.raises(InputError, match=r"input 0 'model' \(model\) takes no image"):
        other.set_image_input(array=image(1), index=0)


def test_set_directory_input_then_run_runs_each_image_into_a_new_run_folder(wf, tmp_path):
    clf = wf.add_task(name="mean_classifier", auto_connect=True)
    folder = write_images(tmp_path / "photos", {"a.png": 250, "sub/b.png": 3})
    assert wf.get_last_run_folder() == ""
    wf.set_directory_input(folder=str(folder))
    wf.run()
    first = Path(wf.get_last_run_folder())
    assert first.parent == (tmp_path / "runs" / "ikomia style").resolve()
    rows = (first / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("a.png,bright")
    assert clf.get_output(0).data.top.label == "dark"  # the last image: sub/b.png
    wf.run()
    assert Path(wf.get_last_run_folder()) != first and first.is_dir()  # never overwritten
    with pytest.raises(InputError, match=r"missing: not a folder \(set_directory_input\)"):
        wf.set_directory_input(folder=str(tmp_path / "missing"))


def test_run_without_given_inputs_runs_once_on_nothing(wf):
    maker = wf.add_task(name="make_model")
    assert wf.run()["model"] == Path("model.pt") and maker.get_output("model").get_path() == "model.pt"


def test_output_folder_and_empty_strings_as_ikomia_passes_them(wf, tmp_path):
    wf.add_task(name="mean_classifier", auto_connect=True)
    folder = write_images(tmp_path / "photos", {"a.png": 250})
    wf.output_folder = str(tmp_path / "elsewhere")
    report = wf.run_on(path="", url="", folder=str(folder))
    assert report.processed == 1
    assert Path(wf.get_last_run_folder()).parent == (tmp_path / "elsewhere").resolve()
    wf.run_on(folder=str(folder), output_dir=tmp_path / "given")
    assert wf.get_last_run_folder() == str((tmp_path / "given").resolve())


# -- a folder fed as a folder --------------------------------------------------------------------------------
def test_a_folder_goes_once_to_a_task_taking_a_dataset_when_no_task_takes_images(wf, tmp_path):
    CountFiles.seen = []
    counter = wf.add_task(name="count_files", auto_connect=True)  # optional dataset input: left unconnected
    assert wf.edges == []
    folder = write_images(tmp_path / "data", {"train/x/a.png": 1, "val/x/b.png": 2})
    report = wf.run_on(folder=str(folder))
    assert CountFiles.seen == [folder] and report.processed == 1
    assert counter.get_output("rows").data == [{"files": 2}]
    assert counter.get_input(0).get_path() == str(folder)
    assert wf.inputs["dataset"] is ports.Dataset  # Ikomia's root took a folder input
    assert Edge(INPUTS, "dataset", "count_files", "dataset") in wf.edges
    assert Path(wf.get_last_run_folder(), "results.json").is_file()
    wf.set_directory_input(str(folder))
    wf.run()
    assert CountFiles.seen == [folder, folder]


def test_a_folder_goes_image_by_image_when_a_task_takes_images(wf, tmp_path):
    CountFiles.seen = []
    wf.add_task(name="mean_classifier", auto_connect=True)
    wf.add_task(name="count_files", auto_connect=True)
    report = wf.run_on(folder=str(write_images(tmp_path / "photos", {"a.png": 1, "b.png": 2})))
    assert report.processed == 2 and CountFiles.seen == []  # no dataset connected, not fed
    assert "dataset" not in wf.inputs


def test_folder_input_follows_the_named_input_or_ikomias_rule(reg):
    wf = Workflow(inputs={"image": "image", "data": "dataset", "model": "model"}, registry=reg)
    wf.add_task(name="count_files")
    wf.connect(None, "count_files", {"data": "dataset"})
    assert folder_input(wf) == "data"
    assert folder_input(wf, "image") is None and folder_input(wf, "data") == "data"
    with pytest.raises(InputError, match=r"input 'model' \(model\) takes neither images nor a folder"):
        folder_input(wf, "model")
    with pytest.raises(InputError, match=r"has no input 'dat' \(did you mean 'data'\?\)"):
        folder_input(wf, "dat")
    wf.add_task(name="invert", auto_connect=True)
    assert folder_input(wf) is None  # a task takes images: the folder's images are run
    with pytest.raises(InputError, match=r"nowhere: not a folder \(input 'data'\)"):
        run_on(wf, folder="nowhere", input="data")


# -- time metrics -------------------------------------------------------------------------------------------
def test_time_metrics_are_ikomias_milliseconds_by_task_name_cumulative_in_order(wf):
    wf.add_task(name="sleep", auto_connect=True)
    wf.add_task(name="sleep", auto_connect=True)
    wf.add_task(name="invert", auto_connect=True)
    start = time.perf_counter()
    wf.run(image=image(3))
    wall_ms = (time.perf_counter() - start) * 1000
    metrics = wf.get_time_metrics()
    assert set(metrics) == {"total_time", "sleep", "invert"}  # keyed by name: the second sleep overwrites
    seconds = wf.get_task_seconds()
    assert set(seconds) == {"sleep", "sleep_1", "invert", "total"}
    assert metrics["sleep"]["task_time"] == pytest.approx(seconds["sleep_1"] * 1000)
    assert metrics["sleep"]["time_from_start"] == pytest.approx(
        (seconds["sleep"] + seconds["sleep_1"]) * 1000
    )
    assert 40 <= metrics["sleep"]["time_from_start"] <= metrics["invert"]["time_from_start"]
    assert metrics["invert"]["time_from_start"] <= metrics["total_time"] <= wall_ms


def test_add_task_takes_ikomias_hub_arguments():
    """Ikomia's add_task(..., public_hub=True, private_hub=False): accepted; tasks come from local plugins."""
    wf = Workflow(registry=make_registry())
    task = wf.add_task(name="invert", auto_connect=True, public_hub=False, private_hub=False)
    assert wf.find_task("invert", 0) is task

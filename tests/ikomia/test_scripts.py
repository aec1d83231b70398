"""Ikomia usage examples, rewritten as tests: each uses only Ikomia's calls, with the imports changed to ours.

Ikomia's imports map to ours as follows:
``from ikomia.dataprocess.workflow import Workflow`` -> ``from workflow import Workflow``,
``from ikomia.utils import ik`` -> ``from workflow import ik``,
``from ikomia.dataprocess import workflow`` -> ``import workflow``,
``from ikomia.utils.displayIO import display`` -> ``from workflow.display import display``.

Each docstring names the example's source (repository / file). Models are our own small checkpoints and images
are local files or arrays (the conftest provides them): the tests need no network. Training examples keep
Ikomia's parameter names with tiny values (input_size 32, 1 epoch, a few real digits per class).
Semantics followed are those of Ikomia's code (IkomiaApi, IkomiaCore, the hub plugins), not of older docs where they
differ.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import workflow
from workflow import Workflow, ik
from workflow.display import display

INFER = "infer_torchvision_resnext"
TRAIN = "train_torchvision_resnext"
DATASET = "dataset_classification"
DIGITS = ["0", "1", "2"]  # the classes of the digit folders the conftest exports
# Ikomia parameter names of train_torchvision_resnext, with values small enough for a seconds-long run
TINY_TRAIN = {
    "model_name": "resnext50",
    "epochs": "1",
    "batch_size": "4",
    "input_size": "32",
    "num_workers": "0",
}


def run_folders(output_folder: Path) -> list[Path]:
    """The training runs written inside ``output_folder``: its sub-folders holding a classes.txt."""
    return sorted(p for p in Path(output_folder).iterdir() if p.is_dir() and (p / "classes.txt").is_file())


def sha1(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def task_names(wf) -> list[str]:
    return [t.name for t in wf.get_tasks()]


def classifier(ckpt: Path, **params: str):
    """Ikomia's ResNeXt task on our checkpoint, through Ikomia's own parameter names (dataset + model_path)."""
    return ik.infer_torchvision_resnext(dataset="Custom", model_path=str(ckpt), **params)


# -- IkomiaApi getting started ------------------------------------------------------------------------------
def test_getting_started_input_and_output_images_keep_the_file_size(big_jpg, ckpt):
    """IkomiaApi doc/source/getting_started.md, "workflow with 1 algorithm": add by name with auto-connect,
    run_on(path=), then display the task's input image and output image."""
    wf = Workflow()
    algo = wf.add_task(name=INFER, auto_connect=True)
    algo.set_parameters({"model_weight_file": str(ckpt)})  # the hub README's parameter name
    wf.run_on(path=str(big_jpg))

    img_in = algo.get_input(0).get_image()
    img_out = algo.get_output(0).get_image()
    display(img_in)
    display(img_out)

    assert isinstance(img_in, np.ndarray) and img_in.dtype == np.uint8
    assert img_in.shape == (1200, 1804, 3)  # the file's size, not a reduced decode
    assert img_out.shape == (1200, 1804, 3)
    assert algo.get_image_with_graphics().shape == (1200, 1804, 3)


def test_getting_started_parameters_through_ik(cat, ckpt, classes):
    """IkomiaApi doc/source/getting_started.md, "workflow with 1 algorithm + custom settings": parameters
    given as string keyword arguments of the ik call; output 0 is the input image, graphics come on request."""
    wf = Workflow()
    algo = wf.add_task(
        ik.infer_torchvision_resnext(model_name="resnext50", dataset="Custom", model_path=str(ckpt)),
        auto_connect=True,
    )
    wf.run_on(array=cat)

    params = algo.get_parameters()
    assert params["model_name"] == "resnext50"
    assert params["dataset"] == "Custom"
    # Ikomia forwards the input image unchanged on output 0 and burns the label only on request
    assert np.array_equal(algo.get_output(0).get_image(), cat)
    with_graphics = algo.get_image_with_graphics()
    assert with_graphics.shape == cat.shape and not np.array_equal(with_graphics, cat)
    assert algo.get_whole_image_results()[0][0] in classes


def test_getting_started_parameters_as_a_dict(cat, ckpt, classes):
    """IkomiaApi doc/source/getting_started.md, "... or use a classic Dict approach" (and the hub README of
    infer_torchvision_resnext: model_name / input_size as strings)."""
    wf = Workflow()
    algo = wf.add_task(name=INFER, auto_connect=True)
    algo.set_parameters({"model_name": "resnext50", "input_size": "48", "model_weight_file": str(ckpt)})
    wf.run_on(array=cat)

    params = algo.get_parameters()
    assert params["input_size"] == "48"
    assert int(params["input_size"]) == 48
    assert algo.get_whole_image_results()[0][0] in classes


def test_getting_started_results_to_json(cat, ckpt, classes):
    """IkomiaApi doc/source/getting_started.md, "export results to JSON":
    get_results().to_json(["json_format", "indented"]); the option list alternates keys and values."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    results = algo.get_results()
    indented = results.to_json(["json_format", "indented"])
    compact = results.to_json(["json_format", "compact"])
    default = results.to_json()
    print(indented)

    assert isinstance(indented, str) and isinstance(compact, str)
    assert "\n" in indented.strip()
    assert "\n" not in compact.strip() and "\n" not in default.strip()  # compact is Ikomia's default
    assert json.loads(indented) == json.loads(compact) == json.loads(default)
    top = algo.get_whole_image_results()[0][0]
    assert top in classes and top in compact


def test_results_are_json_serialisable(cat, ckpt, classes):
    """IkomiaApi doc/source/advanced_guide/IO_management.md, "Get results as JSON" (results.to_json()), and the
    JSON-serialisable results our README promises: json.dumps of the results object."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    results = algo.get_results()
    text = json.dumps(results)
    assert isinstance(json.loads(text), (list, dict))
    assert algo.get_whole_image_results()[0][0] in text
    assert json.loads(results.to_json())  # not empty


def test_getting_started_save_then_module_level_load(cat, ckpt):
    """IkomiaApi doc/source/getting_started.md, "export workflow to JSON": wf.save("./my_workflow.json"), then
    workflow.load(...), run, and find_task(ik.<algo>.name()) which returns a list."""
    wf = Workflow("My workflow")
    wf.add_task(classifier(ckpt), auto_connect=True)
    wf.save("./my_workflow.json")

    with open("my_workflow.json", encoding="utf-8") as fh:
        assert isinstance(json.load(fh), dict)  # a JSON file, not YAML

    wf = workflow.load("./my_workflow.json")
    wf.run_on(array=cat)
    found = wf.find_task(ik.infer_torchvision_resnext.name())
    assert isinstance(found, list) and len(found) == 1
    algo = found[0]
    assert algo.get_input(0).get_image().shape == cat.shape
    assert algo.get_image_with_graphics().shape == cat.shape


def test_load_into_a_new_workflow_keeps_its_tasks(tmp_path, cat, ckpt):
    """IkomiaApi doc/source/advanced_guide/save_and_load_workflow.md, "Load and run your workflow":
    wf = Workflow(); wf.load(path); wf.run_on(...). Also Workflow.load(path) called on the class."""
    path = tmp_path / "my_workflow.json"
    wf = Workflow()
    wf.add_task(classifier(ckpt, input_size="40"), auto_connect=True)
    wf.save(str(path))

    wf = Workflow()
    wf.load(str(path))
    assert task_names(wf).count(INFER) == 1
    wf.run_on(array=cat)
    algo = wf.find_task(INFER, 0)
    assert algo.get_parameters()["input_size"] == "40"
    assert len(algo.get_whole_image_results()) == 3

    again = Workflow.load(str(path))
    assert task_names(again).count(INFER) == 1


def test_modify_a_loaded_workflow_with_ik_parameter_names(tmp_path, cat, ckpt):
    """IkomiaApi doc/source/advanced_guide/save_and_load_workflow.md, "Modify the workflow": get_tasks(), find the
    task by its ik name, set parameters keyed by ik.<algo>.<param>."""
    path = tmp_path / "wf.json"
    first = Workflow()
    first.add_task(classifier(ckpt), auto_connect=True)
    first.save(str(path))

    wf = Workflow()
    wf.load(str(path))
    print(wf.get_tasks())
    assert INFER in task_names(wf)
    task = wf.find_task(ik.infer_torchvision_resnext.name(), 0)
    task.set_parameters(
        {ik.infer_torchvision_resnext.input_size: "48", ik.infer_torchvision_resnext.model_name: "resnext50"}
    )
    assert task.get_parameters()[ik.infer_torchvision_resnext.input_size] == "48"
    wf.run_on(array=cat)
    assert task.get_whole_image_results()


# -- the ik namespace ---------------------------------------------------------------------------------------
def test_ik_entries_are_classes_with_name_and_parameter_attributes():
    """IkomiaApi doc/source/advanced_guide/ik_namespace.md (and ikomia/utils/autocomplete.py): each algorithm is
    a class with one attribute per parameter (holding its name), a name() static method, and a call returning
    the configured task."""
    assert ik.infer_torchvision_resnext.name() == INFER
    assert ik.train_torchvision_resnext.name() == TRAIN
    assert ik.dataset_classification.name() == DATASET
    assert ik.infer_torchvision_resnext.input_size == "input_size"
    assert ik.infer_torchvision_resnext.model_name == "model_name"
    assert ik.infer_torchvision_resnext.class_file == "class_file"
    assert ik.train_torchvision_resnext.epochs == "epochs"
    assert ik.train_torchvision_resnext.output_folder == "output_folder"
    assert ik.dataset_classification.dataset_folder == "dataset_folder"

    task = ik.infer_torchvision_resnext(input_size="64")
    assert task.name == INFER
    params = task.get_parameters()
    assert params[ik.infer_torchvision_resnext.input_size] == "64"
    for key in params:  # every parameter is reachable as ik.<algo>.<param>
        assert getattr(ik.infer_torchvision_resnext, key) == key
    for key in ik.train_torchvision_resnext().get_parameters():
        assert getattr(ik.train_torchvision_resnext, key) == key


# -- workflow methods ---------------------------------------------------------------------------------------
def test_connect_tasks_by_hand(cat, ckpt, classes):
    """IkomiaApi doc/source/advanced_guide/index.md, "Connect manually": add without auto-connect, then
    connect_tasks(wf.root(), task) (automatic ports) or with explicit (output, input) index pairs."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt))
    wf.connect_tasks(wf.root(), algo)
    wf.run_on(array=cat)
    assert algo.get_input(0).get_image().shape == cat.shape
    assert algo.get_whole_image_results()[0][0] in classes

    wf = Workflow()
    algo = wf.add_task(classifier(ckpt))
    wf.connect_tasks(wf.root(), algo, [(0, 0)])
    wf.run_on(array=cat)
    assert np.array_equal(algo.get_output(0).get_image(), cat)


def test_run_on_a_folder_and_the_last_run_folder(tmp_path, image_folder, ckpt):
    """IkomiaApi doc/source/advanced_guide/index.md, "From folder (batch processing)": run_on(folder=); outputs
    are saved in get_last_run_folder() (ikomia/dataprocess/workflow.py run())."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(folder=str(image_folder))

    folder = wf.get_last_run_folder()
    assert isinstance(folder, str) and Path(folder).is_dir()
    assert Path(tmp_path).resolve() in Path(folder).resolve().parents  # under HOME or the working folder
    assert any(p.is_file() for p in Path(folder).rglob("*"))
    assert algo.get_output(0).get_image().ndim == 3


def test_set_directory_input_then_run(image_folder, ckpt, classes):
    """IkomiaApi tests/test_workflow.py, test_set_directory_input and test_run (directory mode): the workflow
    runs once per image of the folder, sub-folders included."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.set_directory_input(folder=str(image_folder))
    wf.run()
    assert algo.get_input(0).get_image().shape in {(120, 160, 3), (150, 201, 3)}
    assert algo.get_whole_image_results()[0][0] in classes


def test_set_image_input_then_run(big_jpg, cat, ckpt):
    """IkomiaApi tests/test_workflow.py, test_set_image_input and test_time_metrics: set_image_input(path=) or
    (array=, index=0) replaces the global input, then run()."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.set_image_input(path=str(big_jpg))
    wf.run()
    assert algo.get_input(0).get_image().shape == (1200, 1804, 3)

    wf.set_image_input(array=cat, index=0)
    wf.run()
    assert algo.get_input(0).get_image().shape == cat.shape
    assert np.array_equal(algo.get_output(0).get_image(), cat)


def test_time_metrics_in_ikomia_shape(cat, ckpt):
    """IkomiaApi tests/test_workflow.py, test_time_metrics, and Workflow.get_time_metrics(): total_time plus,
    per task name, task_time and time_from_start, in milliseconds."""
    import time

    wf = Workflow()
    wf.add_task(classifier(ckpt), auto_connect=True)
    start = time.perf_counter()
    wf.run_on(array=cat)
    wall_ms = (time.perf_counter() - start) * 1000

    metrics = wf.get_time_metrics()
    print(metrics)
    assert "total_time" in metrics and INFER in metrics
    task = metrics[INFER]
    assert {"task_time", "time_from_start"} <= set(task)
    # a ResNeXt-50 forward pass takes well over a millisecond: in seconds these would be < 1
    assert 1.0 <= task["task_time"] <= task["time_from_start"] <= wall_ms
    assert 1.0 <= metrics["total_time"] <= wall_ms


def test_get_task_output_by_type(cat, ckpt):
    """IkomiaApi tests/test_workflow.py, test_get_task_output: the image outputs of a task found by name (a list
    with output_index=-1, the default) or one output by its position among them."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    outs = wf.get_task_output(task_name=ik.infer_torchvision_resnext.name(), task_index=0)
    assert isinstance(outs, list) and len(outs) == 1  # a classification task has one image output
    assert outs[0].get_image().shape == cat.shape
    one = wf.get_task_output(task_obj=algo, output_index=0)
    assert not isinstance(one, list)
    assert np.array_equal(one.get_image(), cat)
    with pytest.raises((RuntimeError, IndexError, workflow.WorkflowError)):  # Ikomia: RuntimeError
        wf.get_task_output(task_obj=algo, output_index=1)


def test_remove_task_by_name_and_by_instance(ckpt):
    """IkomiaApi tests/test_workflow.py, test_remove_task: remove_task(name=, index=) then remove_task(task=)."""
    wf = Workflow()
    first = wf.add_task(classifier(ckpt), auto_connect=True)
    second = wf.add_task(classifier(ckpt))
    loader = wf.add_task(ik.dataset_classification())
    assert task_names(wf).count(INFER) == 2
    assert wf.find_task(INFER, 0) is first

    wf.remove_task(name=ik.infer_torchvision_resnext.name(), index=0)
    assert task_names(wf).count(INFER) == 1
    assert wf.find_task(INFER, 0) is second

    wf.remove_task(task=loader)
    assert DATASET not in task_names(wf)
    assert wf.find_task(DATASET) == []


# -- IO objects ---------------------------------------------------------------------------------------------
def test_inputs_and_outputs_are_lists_of_io_objects(cat, ckpt):
    """IkomiaApi doc/source/advanced_guide/IO_management.md, "Print() is your best friend": print(get_inputs()),
    print(get_outputs()), get_input(0) / get_output(0) images; output 1 holds object results (none for a whole
    image)."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    inputs = algo.get_inputs()
    outputs = algo.get_outputs()
    print(inputs)
    print(outputs)
    assert isinstance(inputs, list) and isinstance(outputs, list)
    assert len(inputs) >= 2 and len(outputs) >= 2
    assert inputs[0].get_image().shape == cat.shape
    assert outputs[0].get_image().shape == cat.shape
    assert algo.get_output(1).get_objects() == []  # whole-image mode: no objects
    assert all(isinstance(repr(port), str) for port in inputs + outputs)


def test_image_io_set_clear_and_availability(cat, ckpt):
    """IkomiaApi doc/source/advanced_guide/IO_management.md, "Common I/O: Image" (get_image on input and output
    objects) and the CImageIO methods used in IkomiaApi tests: is_data_available, set_image, clear_data."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    input_obj = algo.get_input(0)
    output_obj = algo.get_output(0)
    assert input_obj.is_data_available() and output_obj.is_data_available()
    small = np.ascontiguousarray(cat[:64, :96])
    input_obj.set_image(small)
    assert input_obj.get_image().shape == (64, 96, 3)
    output_obj.clear_data()
    assert not output_obj.is_data_available()


def test_hub_readme_every_output_exports_json(cat, ckpt):
    """Ikomia-hub infer_torchvision_resnext README.md, "Explore algorithm outputs": for each output of
    get_outputs(), print it and call to_json(). An image output's JSON holds the image as base64 (IkomiaCore
    CImageIO::toJson)."""
    wf = Workflow()
    algo = wf.add_task(name=INFER, auto_connect=True)
    algo.set_parameters({"model_weight_file": str(ckpt)})
    wf.run_on(array=cat)

    for output in algo.get_outputs():
        print(output)
        assert isinstance(output.to_json(), str)

    image_json = json.loads(algo.get_output(0).to_json(["json_format", "compact", "image_format", "png"]))
    decoded = np.asarray(PILImage.open(io.BytesIO(base64.b64decode(image_json["image"]))))
    assert decoded.shape == cat.shape


# -- classification accessors -------------------------------------------------------------------------------
def test_hub_plugin_test_sets_the_image_on_input_0(cat, ckpt, classes):
    """Ikomia-hub infer_torchvision_resnext infer_torchvision_resnext_test.py: the task alone,
    get_input(0).set_image(img), then run."""
    t = ik.infer_torchvision_resnext(dataset="Custom", model_path=str(ckpt))
    t.get_input(0).set_image(cat)
    t.run()
    assert t.get_output(0).get_image().shape == cat.shape
    assert t.get_names() == classes
    assert t.get_whole_image_results()[0][0] in classes


def test_whole_image_results_and_names(cat, ckpt, classes):
    """Ikomia-hub infer_torchvision_resnext infer_torchvision_resnext_process.py (set_whole_image_results with
    every class, best first, confidences as strings) and IkomiaCore CClassificationTask (get_names,
    get_whole_image_results, numeric output 3)."""
    wf = Workflow()
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    assert algo.get_names() == classes
    results = algo.get_whole_image_results()
    assert isinstance(results, list) and len(results) == len(classes)
    assert all(isinstance(r, tuple) and len(r) == 2 for r in results)
    assert sorted(name for name, _ in results) == sorted(classes)
    assert all(isinstance(conf, str) for _, conf in results)
    confidences = [float(conf) for _, conf in results]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0, abs=1e-3)

    table = json.loads(algo.get_output(3).to_json())
    assert {"headers", "valueLabels", "values"} <= set(table)
    assert table["valueLabels"][0] == [name for name, _ in results]


def test_objects_results_in_roi_mode(cat, ckpt, classes, box_detector):
    """IkomiaCore DataProcess/Task/CClassificationTask.cpp (ROI mode: one object per input box, get_objects_results)
    with IkomiaApi doc/source/advanced_guide/IO_management.md's loop over objects (id, label, confidence, box,
    color) and the notebook HOWTO_make_a_simple_workflow_with_Ikomia_API.ipynb's get_output(1).get_objects()."""
    wf = Workflow()
    wf.add_task(name="test_fixed_boxes")
    algo = wf.add_task(classifier(ckpt), auto_connect=True)
    wf.run_on(array=cat)

    results = algo.get_objects_results()
    objects = results.get_objects()
    assert len(objects) == len(box_detector) == len(algo.get_output(1).get_objects())
    for obj, (x1, y1, x2, y2) in zip(objects, box_detector):
        print(obj.id, obj.label, obj.confidence, obj.box, obj.color)
        assert obj.label in classes
        assert 1 / len(classes) - 1e-6 <= obj.confidence <= 1.0  # the top class's probability
        assert list(obj.box) == pytest.approx([x1, y1, x2 - x1, y2 - y1])  # Ikomia boxes: x, y, width, height
    data = json.loads(results.to_json())
    assert [d["box"] for d in data["detections"]] == [
        pytest.approx({"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0}),
        pytest.approx({"x": 50.0, "y": 10.0, "width": 70.0, "height": 80.0}),
    ]
    assert {"id", "label", "confidence", "box", "color"} <= set(data["detections"][0])
    assert algo.get_image_with_graphics().shape == cat.shape


# -- parameters ---------------------------------------------------------------------------------------------
def test_get_parameters_returns_strings_and_round_trips():
    """Ikomia-hub infer_torchvision_resnext_process.py (ResnextParam.get_values: strings, "" for no file) and
    train_torchvision_resnext_process.py (TrainResnextParam defaults): get_parameters() is a dict of strings
    that set_parameters() takes back unchanged."""
    infer = ik.infer_torchvision_resnext()
    params = infer.get_parameters()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    assert params["model_name"] == "resnext50"
    assert int(params["input_size"]) == 224
    assert params["class_file"] == ""
    infer.set_parameters(params)
    assert infer.get_parameters() == params

    train = ik.train_torchvision_resnext()
    params = train.get_parameters()
    assert all(isinstance(v, str) for v in params.values())
    assert int(params["epochs"]) == 15 and int(params["batch_size"]) == 8
    assert int(params["input_size"]) == 224
    assert float(params["learning_rate"]) == 0.001
    assert float(params["momentum"]) == 0.9 and float(params["weight_decay"]) == 1e-4
    assert params["export_pth"] == "True" and params["export_onnx"] == "False"
    train.set_parameters(params)
    assert train.get_parameters() == params


def test_default_imagenet_weights_are_ikomias_v1_from_the_cache(cat, torch_home):
    """Ikomia-dev notebooks HOWTO_run_ResNext_with_Ikomia_API.ipynb (add by name, set model_name / input_size,
    run): the hub plugin loads torchvision's IMAGENET1K_V1 (pretrained=True); offline, the cached V1 file is
    used, and naming IMAGENET1K_V1 gives the same model."""
    wf = Workflow()
    algo = wf.add_task(name=INFER, auto_connect=True)
    algo.set_parameters({"model_name": "resnext50", "input_size": "224"})
    wf.run_on(array=cat)

    assert len(algo.get_names()) == 1000
    default_results = algo.get_whole_image_results()
    assert len(default_results) == 1000

    wf = Workflow()
    v1 = wf.add_task(
        ik.infer_torchvision_resnext(model_name="resnext50", pretrained_weights="IMAGENET1K_V1"),
        auto_connect=True,
    )
    assert v1.get_parameters()["pretrained_weights"] == "IMAGENET1K_V1"
    wf.run_on(array=cat)
    assert v1.get_whole_image_results()[:5] == default_results[:5]
    assert sorted(p.name for p in (torch_home / "hub" / "checkpoints").iterdir()) == [
        "resnext50_32x4d-7cdf4587.pth"
    ]


# -- workflow files written by Ikomia -----------------------------------------------------------------------
def ikomia_task(
    task_id: int, name: str, params: dict[str, str], inputs: list[str], outputs: list[str]
) -> dict:
    """One entry of "tasks" as IkomiaCore's CWorkflow::saveJSON writes it (parameters sorted by name)."""
    return {
        "task_id": task_id,
        "task_data": {
            "name": name,
            "language": 1,
            "url": f"file:///home/user/Ikomia/Plugins/Python/{name}",
            "parameters": [{"name": k, "value": params[k]} for k in sorted(params)],
            "inputs": [{"name": f"IODataType.{t}"} for t in inputs],
            "outputs": [{"name": f"IODataType.{t}"} for t in outputs],
        },
    }


def ikomia_file(
    path: Path, name: str, tasks: list[dict], connections: list[tuple[int, int, int, int]]
) -> Path:
    doc = {
        "api": {"version": "0.15.0", "python_version": "3.11"},
        "metadata": {"name": name, "description": "", "keywords": ""},
        "tasks": tasks,
        "connections": [
            {"source_id": s, "source_index": si, "target_id": t, "target_index": ti}
            for s, si, t, ti in connections
        ],
        "exposed_parameters": [],
        "exposed_outputs": [],
        "hardware_config": {"min_cpu": 0, "min_ram": 0, "is_gpu_required": False, "min_vram": 0},
    }
    path.write_text(json.dumps(doc, indent=4), encoding="utf-8")
    return path


CLASSIF_IO = (["IMAGE", "INPUT_GRAPHICS"], ["IMAGE", "OBJECT_DETECTION", "OUTPUT_GRAPHICS", "NUMERIC_VALUES"])


def test_a_workflow_exported_by_ikomia_loads_and_runs(tmp_path, cat, ckpt, classes):
    """IkomiaCore DataProcess/Core/CWorkflow.cpp (saveJSON/loadJSON format: tasks with task_data name and
    name/value parameters, connections with source_id -1 for the root) and IkomiaApi tests/test_workflow.py
    (workflow.load of tests/data/workflows/*.json, then run_on and find_task(name, index))."""
    params = {
        "class_file": "",
        "dataset": "Custom",
        "input_size": "32",
        "model_name": "resnext50",
        "model_path": str(ckpt),
    }
    path = ikomia_file(
        tmp_path / "classify.json",
        "classify",
        [ikomia_task(0, INFER, params, *CLASSIF_IO)],
        [(-1, 0, 0, 0)],
    )
    wf = workflow.load(str(path))
    assert wf.name == "classify"
    algo = wf.find_task(INFER, 0)
    assert algo.get_parameters()["input_size"] == "32"
    assert algo.get_parameters()["class_file"] == ""
    wf.run_on(array=cat)
    assert algo.get_names() == classes
    assert algo.get_whole_image_results()[0][0] in classes


def test_an_ikomia_training_workflow_file_loads_and_an_unknown_task_is_one_line(tmp_path, digits):
    """IkomiaCore CWorkflow::saveJSON format for the hub's dataset_classification -> train_torchvision_resnext
    chain (all parameters of both plugins, as strings); IkomiaApi tests/data/workflows/PrepareRuntime.json shape.
    A task that cannot be mapped is refused with a one-line message naming it."""
    dataset_params = {
        "dataset_folder": str(digits),
        "dataset_split_ratio": "0.8",
        "output_folder": "",
        "seed": "42",
        "split_dataset": "False",
    }
    train_params = {
        "batch_size": "8",
        "epochs": "3",
        "export_onnx": "False",
        "export_pth": "True",
        "feature_extract": "True",
        "input_size": "224",
        "learning_rate": "0.005",
        "model_name": "resnext50",
        "momentum": "0.9",
        "num_workers": "0",
        "output_folder": str(tmp_path / "models"),
        "use_pretrained": "True",
        "weight_decay": "0.0001",
    }
    path = ikomia_file(
        tmp_path / "training.json",
        "classif_training",
        [
            ikomia_task(0, DATASET, dataset_params, [], ["FOLDER_PATH"]),
            ikomia_task(1, TRAIN, train_params, ["FOLDER_PATH"], []),
        ],
        [(0, 0, 1, 0)],
    )
    wf = workflow.load(str(path))
    assert wf.name == "classif_training"
    assert {DATASET, TRAIN} <= set(task_names(wf))
    loaded = wf.find_task(DATASET, 0).get_parameters()
    assert loaded["dataset_folder"] == str(digits) and loaded["split_dataset"] == "False"
    train = wf.find_task(TRAIN, 0).get_parameters()
    assert int(train["epochs"]) == 3 and float(train["learning_rate"]) == 0.005
    assert train["output_folder"] == str(tmp_path / "models")

    bad = ikomia_file(
        tmp_path / "yolo.json",
        "detect",
        [
            ikomia_task(
                0,
                "infer_yolo_v7",
                {"conf_thres": "0.25"},
                ["IMAGE", "INPUT_GRAPHICS"],
                ["IMAGE", "OBJECT_DETECTION"],
            )
        ],
        [(-1, 0, 0, 0)],
    )
    with pytest.raises(Exception) as err:
        workflow.load(str(bad))
    message = str(err.value).strip()
    assert "infer_yolo_v7" in message and "\n" not in message


# -- dataset_classification ---------------------------------------------------------------------------------
def test_dataset_classification_parameters_and_ports():
    """Ikomia-hub dataset_classification dataset_classification_process.py: parameter defaults (as strings), no
    input, one folder-path output."""
    t = ik.dataset_classification()
    params = t.get_parameters()
    assert {
        k: params[k]
        for k in ("dataset_folder", "dataset_split_ratio", "split_dataset", "output_folder", "seed")
    } == {
        "dataset_folder": "",
        "dataset_split_ratio": "0.8",
        "split_dataset": "False",
        "output_folder": "",
        "seed": "42",
    }
    assert t.get_inputs() == []
    assert len(t.get_outputs()) == 1


def test_dataset_classification_splits_a_folder_of_classes(tmp_path, flat_digits):
    """Ikomia-hub dataset_classification README.md (split_dataset, dataset_split_ratio, output_folder, seed) and
    dataset_classification_test.py (the task run on its own): int(n * ratio) images per class copied to
    train/<class>/, the rest to val/<class>/, the same seed giving the same split."""
    wf = Workflow()
    algo = wf.add_task(name=DATASET, auto_connect=False)
    algo.set_parameters(
        {
            "dataset_folder": str(flat_digits),
            "split_dataset": "True",
            "dataset_split_ratio": "0.7",
            "output_folder": str(tmp_path / "split_a"),
            "seed": "25",
        }
    )
    wf.run()
    out = Path(algo.get_output(0).get_path())
    assert out == tmp_path / "split_a"
    first = {}
    for c in DIGITS:
        source = sorted(p.name for p in (flat_digits / c).iterdir())
        train = sorted(p.name for p in (out / "train" / c).iterdir())
        val = sorted(p.name for p in (out / "val" / c).iterdir())
        assert len(source) == 6  # copied, not moved
        assert (len(train), len(val)) == (int(6 * 0.7), 6 - int(6 * 0.7))
        assert sorted(train + val) == source
        first[c] = train

    algo.set_parameters({"output_folder": str(tmp_path / "split_b")})
    wf.run()
    for c in DIGITS:
        assert sorted(p.name for p in (tmp_path / "split_b" / "train" / c).iterdir()) == first[c]


def test_dataset_classification_readme_trains_with_wf_run(tmp_path, digits):
    """Ikomia-hub train_torchvision_resnext README.md (dataset loader by name, training auto-connected, the
    README's parameter dict as strings, wf.run()) and dataset_classification README.md: the run writes
    <output_folder>/<timestamp>/ with the model's .pth state dict and classes.txt."""
    import torch

    out = tmp_path / "models"
    wf = Workflow()
    data_loader = wf.add_task(name=DATASET)
    data_loader.set_parameters({"dataset_folder": str(digits)})
    train = wf.add_task(name=TRAIN, auto_connect=True)
    train.set_parameters(
        {
            "model_name": "resnext50",
            "batch_size": "4",
            "epochs": "1",
            "input_size": "32",
            "momentum": "0.9",
            "learning_rate": "0.001",
            "weight_decay": "1e-4",
            "export_pth": "True",
            "export_onnx": "False",
            "num_workers": "0",
            "output_folder": str(out),
        }
    )
    wf.run()

    assert data_loader.get_output(0).get_path() == str(digits)
    runs = run_folders(out)
    assert len(runs) == 1
    assert (runs[0] / "classes.txt").read_text().split() == DIGITS
    state = torch.load(runs[0] / "resnext50.pth", map_location="cpu")
    assert tuple(state["fc.weight"].shape) == (len(DIGITS), 2048)  # a plain state dict, 3-class head


def test_train_hub_plugin_test_round_trips_parameters(tmp_path, digits):
    """Ikomia-hub train_torchvision_resnext train_torchvision_resnext_test.py: the task alone, its dataset path set
    on input 0, params = get_parameters(), a few changed as strings, set_parameters(params), run. Pretrained
    (Ikomia's default) comes from the cached IMAGENET1K_V1 file offline."""
    out = tmp_path / "models"
    t = ik.train_torchvision_resnext()
    input_path = t.get_input(0)
    params = t.get_parameters()
    params["epochs"] = "1"
    params["batch_size"] = "2"
    params["input_size"] = "32"
    params["num_workers"] = "0"
    params["output_folder"] = str(out)
    t.set_parameters(params)
    input_path.set_path(str(digits))
    t.run()

    assert t.get_input(0).get_path() == str(digits)
    runs = run_folders(out)
    assert len(runs) == 1 and (runs[0] / "resnext50.pth").is_file()


def test_training_notebook_then_inference_on_its_files(digits, capfd, caplog):
    """Ikomia-dev notebooks HOWTO_train_Classification_Model_with_Ikomia_API.ipynb (written for the ResNet
    plugins, same parameters): train through ik with output_folder=os.getcwd() and run_on(folder=dataset), then
    classify an image with model_weight_file=<output>/<timestamp>/<model>.pth and class_file=.../classes.txt."""
    caplog.set_level(logging.INFO)
    wf = Workflow()
    resnet = wf.add_task(
        ik.train_torchvision_resnext(
            model_name="resnext50",
            batch_size="4",
            epochs="1",
            input_size="32",
            num_workers="0",
            output_folder=os.getcwd(),
        ),
        auto_connect=True,
    )
    dataset_folder = str(digits)
    wf.run_on(folder=dataset_folder)

    runs = run_folders(Path(os.getcwd()))
    assert len(runs) == 1
    run = runs[0]
    assert resnet.get_input(0).get_path() == dataset_folder
    logged = capfd.readouterr()
    text = logged.out + logged.err + caplog.text
    assert "epoch" in text.lower()  # progress is reported off a terminal too
    assert run.name in text  # and where the run was saved

    wf = Workflow()
    resnet = wf.add_task(
        ik.infer_torchvision_resnext(
            model_name="resnext50",
            model_weight_file=str(run / "resnext50.pth"),
            class_file=str(run / "classes.txt"),
        ),
        auto_connect=True,
    )
    image = sorted((digits / "val" / "1").iterdir())[0]
    wf.run_on(path=str(image))
    result = resnet.get_image_with_graphics()
    assert result.shape == (28, 28, 3)
    assert resnet.get_names() == DIGITS
    assert resnet.get_whole_image_results()[0][0] in DIGITS


def test_two_trainings_into_one_output_folder_keep_both_runs(tmp_path, digits):
    """Ikomia-hub train_torchvision_resnext resnext.py (launch: each run writes a new timestamped folder inside
    output_folder with classes.txt and <model_name>.pth): a second run leaves the first run's files untouched."""
    out = tmp_path / "models"
    wf = Workflow()
    wf.add_task(ik.train_torchvision_resnext(output_folder=str(out), **TINY_TRAIN), auto_connect=True)
    wf.run_on(folder=str(digits))
    (first,) = run_folders(out)
    before = {p.name: (sha1(p), p.stat().st_mtime_ns) for p in first.iterdir() if p.is_file()}
    assert {"classes.txt", "resnext50.pth"} <= set(before)

    wf = Workflow()
    wf.add_task(ik.train_torchvision_resnext(output_folder=str(out), **TINY_TRAIN), auto_connect=True)
    wf.run_on(folder=str(digits))

    runs = run_folders(out)
    assert len(runs) == 2 and first in runs
    after = {p.name: (sha1(p), p.stat().st_mtime_ns) for p in first.iterdir() if p.is_file()}
    assert after == before
    second = next(r for r in runs if r != first)
    assert (second / "resnext50.pth").is_file()
    assert (second / "classes.txt").read_text().split() == DIGITS

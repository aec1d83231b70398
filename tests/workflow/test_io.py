"""IO objects on ports (Ikomia's `get_input(i)` / `get_output(i)`), to_json options and JSON results (no torch)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflow.tasks_for_tests import Invert, MakeModel, MeanClassifier, make_registry
from workflow import Port, PortError, Task, Workflow
from workflow.core import ports
from workflow.core.io import (
    ClassificationIO,
    ImageIO,
    ObjectDetection,
    ObjectDetectionIO,
    PathIO,
    TableIO,
    TaskIO,
    io_class,
    register_io,
)
from workflow.core.results import ClassificationResult, ClassScore, DetectionsResult, json_options


def photo(value: int = 200) -> np.ndarray:
    img = np.full((24, 32, 3), value, np.uint8)
    img[..., 0] = 250
    return img


class Everything(Task):
    """One port of each data type, for the IO classes."""

    name = "everything"
    inputs = (
        Port("image", ports.Image),
        Port("boxes", ports.Detections, optional=True),
        Port("folder", ports.Dataset, optional=True),
        Port("anything", ports.DataType, optional=True),
    )
    outputs = (
        Port("annotated", ports.AnnotatedImage, optional=True),
        Port("boxes", ports.Detections, optional=True),
        Port("classes", ports.Classification, optional=True),
        Port("model", ports.Model, optional=True),
        Port("rows", ports.Table, optional=True),
        Port("anything", ports.DataType, optional=True),
    )

    def run(self) -> None:
        image = self.get_input(0).get_image()
        self.set_output("annotated", 255 - image)
        boxes = self.get_input("boxes")
        if boxes.is_data_available():
            self.set_output("boxes", boxes.data)
        self.set_output("classes", [("cat", 281, 0.75), ("dog", 207, 0.25)])
        self.set_output("model", "weights.pt")
        self.set_output("rows", [{"epoch": 1, "loss": 0.5}])
        self.set_output("anything", {"n": 3})


# -- which IO class ---------------------------------------------------------------------------------
def test_each_port_type_gets_its_io_class_in_port_order():
    task = Everything()
    assert [type(x) for x in task.get_inputs()] == [ImageIO, ObjectDetectionIO, PathIO, TaskIO]
    assert [type(x) for x in task.get_outputs()] == [
        ImageIO,
        ObjectDetectionIO,
        ClassificationIO,
        PathIO,
        TableIO,
        TaskIO,
    ]
    assert [x.name for x in task.get_outputs()] == [p.name for p in Everything.outputs]
    assert task.get_output(2).data_type is ports.Classification
    assert task.get_output("model").data_type is ports.Model
    assert isinstance(task.get_input(0), TaskIO)


def test_a_plugin_data_type_gets_the_base_io_or_the_one_it_registers():
    class Mask(ports.DataType):
        """A plugin's own type."""

        label = "mask_for_io_test"

    class Heatmap(ports.Image):
        """A subtype of Image: it inherits ImageIO."""

    assert io_class(Mask) is TaskIO and io_class(Heatmap) is ImageIO

    class MaskIO(TaskIO):
        def get_mask(self):
            return self.data

    register_io(Mask, MaskIO)
    assert io_class(Mask) is MaskIO
    with pytest.raises(TypeError, match=r"register_io: <class 'int'> is not a DataType class"):
        register_io(int, MaskIO)
    with pytest.raises(TypeError, match=r"register_io: .* is not a TaskIO class"):
        register_io(Mask, object)


# -- the IO object is a view of the task's port ----------------------------------------------------------
def test_io_objects_read_and_write_the_task_ports():
    task = Everything()
    image_in = task.get_input(0)
    assert not image_in.is_data_available()
    image_in.set_image(photo())
    assert task.get_input("image").get_image() is image_in.get_image()  # the same port, one value
    task.run()
    out = task.get_output("annotated")
    assert out.is_data_available() and np.array_equal(out.get_image(), 255 - photo())
    assert out.get_channel_count() == 3
    out.clear_data()
    assert not out.is_data_available() and out.get_image() is None and out.data is None
    image_in.data = photo(10)
    assert task.get_input(0).data[0, 0, 1] == 10
    image_in.data = None
    assert not task.get_input(0).is_data_available()


def test_setting_data_checks_the_port_type_naming_task_and_port():
    task = Everything()
    with pytest.raises(
        PortError, match=r"task 'everything': input 'image' \(image\): expected an HxWx3 uint8"
    ):
        task.get_input(0).set_image(np.zeros((4, 4), np.uint8))
    with pytest.raises(
        PortError, match=r"task 'everything': output 'model' \(model\): expected a path, got int"
    ):
        task.get_output("model").data = 3


def test_an_empty_required_input_raises_where_it_is_read():
    task = Everything()
    handle = task.get_input(0)  # getting the IO object is fine (Ikomia scripts then set it)
    assert repr(handle) == "ImageIO('image', image, no data)"
    with pytest.raises(PortError, match=r"^task 'everything': required input 'image' \(image\) has no data$"):
        handle.get_image()
    with pytest.raises(PortError, match=r"required input 'image' \(image\) has no data"):
        task.run()
    assert task.get_input("boxes").data is None  # optional: None
    assert task.get_input("folder").get_path() == ""


def test_asking_an_io_object_for_an_array_attribute_points_at_data():
    task = Everything()
    task.get_input(0).set_image(photo())
    with pytest.raises(
        AttributeError,
        match=r"ImageIO \(input 'image' of task 'everything'\) has no attribute 'shape'; the raw value is \.data",
    ):
        task.get_input(0).shape  # noqa: B018 (the lookup is what raises)
    assert task.get_input(0).data.shape == (24, 32, 3)


def test_io_objects_show_what_they_hold():
    task = Everything()
    task.get_input(0).set_image(photo())
    task.get_input("boxes").data = [(1, 2, 11, 22)]
    task.run()
    shown = [repr(x) for x in task.get_inputs() + task.get_outputs()]
    assert shown == [
        "ImageIO('image', image, 24x32x3)",
        "ObjectDetectionIO('boxes', detections, DetectionsResult of 1)",
        "PathIO('folder', dataset, no data)",
        "TaskIO('anything', any, no data)",
        "ImageIO('annotated', annotated_image, 24x32x3)",
        "ObjectDetectionIO('boxes', detections, DetectionsResult of 1)",
        "ClassificationIO('classes', classification, ClassificationResult of 2)",
        "PathIO('model', model, weights.pt)",
        "TableIO('rows', table, list of 1)",
        "TaskIO('anything', any, dict of 1)",
    ]


# -- per type: accessors and JSON ---------------------------------------------------------------
def ran() -> Everything:
    task = Everything()
    task.get_input(0).set_image(photo())
    task.get_input("boxes").data = DetectionsResult(
        [(10, 20, 40, 60), (5, 5, 6, 9)], ["cat", "dog"], [0.9, 0.4]
    )
    task.run()
    return task


@pytest.mark.parametrize("fmt, magic", [("jpg", b"\xff\xd8"), ("png", b"\x89PNG")])
def test_image_json_holds_the_image_in_base64(fmt, magic):
    task = ran()
    doc = json.loads(task.get_output(0).to_json(["image_format", fmt]))
    data = base64.b64decode(doc["image"])
    assert data.startswith(magic)
    decoded = np.asarray(Image.open(io.BytesIO(data)))
    assert decoded.shape == (24, 32, 3)
    if fmt == "png":
        assert np.array_equal(decoded, 255 - photo())  # lossless
    assert json.loads(task.get_output(0).to_json())["image"].startswith("/9j/")  # JPEG by default (Ikomia)
    assert json.loads(Everything().get_output(0).to_json()) == {"image": ""}


def test_detections_as_ikomia_objects_and_json():
    task = ran()
    out = task.get_output("boxes")
    objects = out.get_objects()
    assert out.get_object_count() == 2
    assert objects[0] == ObjectDetection(0, "cat", 0.9, [10.0, 20.0, 30.0, 40.0], objects[0].color)
    assert (objects[1].id, objects[1].label, objects[1].box) == (1, "dog", [5.0, 5.0, 1.0, 4.0])
    assert len(objects[0].color) == 3 and all(0 <= c <= 255 for c in objects[0].color)
    assert out.get_objects()[0].color == objects[0].color  # stable per label
    doc = json.loads(out.to_json())
    assert doc["referenceImageIndex"] == 0
    assert doc["detections"][0] == {
        "id": 0,
        "label": "cat",
        "confidence": 0.9,
        "box": {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0},
        "color": {"r": objects[0].color[0], "g": objects[0].color[1], "b": objects[0].color[2], "a": 255},
    }
    empty = Everything().get_output("boxes")
    assert empty.get_objects() == [] and empty.get_object_count() == 0
    assert json.loads(empty.to_json()) == {"detections": [], "referenceImageIndex": 0}


def test_boxes_without_labels_or_scores_are_objects_too():
    task = Everything()
    task.get_input(0).set_image(photo())
    task.get_input("boxes").data = [(0, 0, 2, 2)]
    task.run()
    (obj,) = task.get_output("boxes").get_objects()
    assert (obj.label, obj.confidence, obj.box) == ("", None, [0.0, 0.0, 2.0, 2.0])


def test_classification_json_is_ikomias_numeric_table():
    task = ran()
    out = task.get_output("classes")
    assert out.get_names() == ["cat", "dog"] and out.get_values() == ["0.75", "0.25"]
    assert json.loads(out.to_json()) == {
        "outputType": 2,
        "plotType": 0,
        "headers": ["Confidence"],
        "valueLabels": [["cat", "dog"]],
        "values": [["0.75", "0.25"]],
    }
    assert out.data == ClassificationResult([ClassScore("cat", 281, 0.75), ClassScore("dog", 207, 0.25)])
    assert json.loads(Everything().get_output("classes").to_json())["valueLabels"] == []


def test_path_table_and_base_io():
    task = ran()
    model = task.get_output("model")
    assert model.get_path() == "weights.pt" and model.data == Path("weights.pt")
    model.set_path("other.pt")
    assert task.get_output("model").data == Path("other.pt")
    assert json.loads(model.to_json()) == {"path": "other.pt"}
    model.set_path("")
    assert not model.is_data_available()
    folder = task.get_input("folder")
    folder.set_path("/data/set")
    assert task.get_input(2).get_path() == "/data/set"
    assert task.get_output("rows").get_rows() == [{"epoch": 1, "loss": 0.5}]
    assert json.loads(task.get_output("rows").to_json()) == {"rows": [{"epoch": 1, "loss": 0.5}]}
    assert json.loads(task.get_output("anything").to_json()) == {"data": {"n": 3}}
    assert json.loads(Everything().get_output("anything").to_json()) == {"data": None}


# -- to_json options ------------------------------------------------------------------------------
def test_json_format_options_alternate_keys_and_values():
    out = ran().get_output("classes")
    compact = out.to_json(["json_format", "compact"])
    indented = out.to_json(["json_format", "indented"])
    assert "\n" not in compact and compact == out.to_json() and "\n" in indented
    assert json.loads(compact) == json.loads(indented)
    assert json_options(["image_format", "png", "json_format", "indented"]) == {
        "json_format": "indented",
        "image_format": "png",
    }


@pytest.mark.parametrize(
    "options, message",
    [
        (["json_format"], r"to_json options alternate key and value: 'json_format' has no value"),
        (
            ["json_fromat", "compact"],
            r"unknown to_json option 'json_fromat'; known: json_format, image_format",
        ),
        (
            ["json_format", "pretty"],
            r"to_json option 'json_format' got 'pretty', expected one of compact, indented",
        ),
        (
            "json_format",
            r"to_json options must be a list of strings \(key, value, \.\.\.\), got 'json_format'",
        ),
        ([1, 2], r"to_json options must be a list of strings"),
    ],
)
def test_bad_json_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message):
        ran().get_output("classes").to_json(options)


# -- results records ------------------------------------------------------------------------------
def test_results_are_json_serialisable_as_they_are():
    result = ClassificationResult([ClassScore("cat", 281, np.float32(0.75)), ("dog", np.int64(207), 0.25)])
    assert json.loads(json.dumps(result)) == [["cat", 281, 0.75], ["dog", 207, 0.25]]
    assert [c.label for c in result] == ["cat", "dog"] and result.top == ClassScore("cat", 281, 0.75)
    assert result.classes is result and len(result) == 2
    assert json.loads(result.to_json(["json_format", "indented"])) == result.to_dict()
    assert result.to_dict() == {
        "classes": [
            {"label": "cat", "index": 281, "score": 0.75},
            {"label": "dog", "index": 207, "score": 0.25},
        ]
    }
    assert repr(result).startswith("ClassificationResult([ClassScore(label='cat', index=281, score=0.75)")
    assert ClassificationResult().top is None

    dets = DetectionsResult([(0, 0, 4, 4), (1, 1, 3, 3)], ["cat", "dog"], [0.9, 0.4], [result, []])
    assert json.loads(json.dumps(dets))[0] == {
        "box": [0.0, 0.0, 4.0, 4.0],
        "label": "cat",
        "score": 0.9,
        "classes": [["cat", 281, 0.75], ["dog", 207, 0.25]],
    }
    assert dets.boxes == [(0.0, 0.0, 4.0, 4.0), (1.0, 1.0, 3.0, 3.0)] and len(dets) == 2
    assert dets.labels == ["cat", "dog"] and dets.scores == [0.9, 0.4]
    assert dets.classifications == [result, ClassificationResult()]
    assert json.loads(dets.to_json()) == dets.to_dict()
    assert dets.to_dict()["boxes"] == [[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 3.0, 3.0]]
    assert json.dumps(DetectionsResult()) == "[]"


def test_result_records_refuse_what_does_not_fit():
    with pytest.raises(TypeError, match=r"3 labels for 2 boxes"):
        DetectionsResult([(0, 0, 1, 1), (0, 0, 2, 2)], ["a", "b", "c"])
    with pytest.raises(TypeError, match=r"a box is four numbers \(x1, y1, x2, y2\), got \(0, 0, 1\)"):
        DetectionsResult([(0, 0, 1)])
    with pytest.raises(TypeError, match=r"a box is four numbers \(x1, y1, x2, y2\), got \('a', 0, 1, 1\)"):
        DetectionsResult([("a", 0, 1, 1)])
    with pytest.raises(TypeError, match=r"cannot read a class score from 0\.5"):
        ClassificationResult([0.5])


def test_results_survive_pickling():
    import pickle

    result = ClassificationResult([ClassScore("cat", 1, 0.5)])
    dets = DetectionsResult([(0, 0, 1, 1)], ["cat"], [0.5], [result])
    assert pickle.loads(pickle.dumps(result)) == result
    again = pickle.loads(pickle.dumps(dets))
    assert type(again) is DetectionsResult and again == dets and again.classifications == [result]


# -- a task run on its own, and in a workflow --------------------------------------------------------
def test_a_task_runs_on_its_own_after_set_image():
    """Ikomia's plugin tests: the task alone, get_input(0).set_image(img), run()."""
    inv = Invert({"amount": "100"})
    inv.get_input(0).set_image(photo(40))
    inv.run()
    assert inv.get_output(0).get_image()[0, 0, 1] == 60
    assert np.array_equal(inv.get_image_with_graphics(), inv.get_output(0).get_image())


def test_after_a_workflow_run_ports_hold_the_last_item():
    wf = Workflow(registry=make_registry())
    model = wf.add_task(MakeModel)
    cls = wf.add_task(MeanClassifier, auto_connect=True)
    wf.run(image=photo(10))
    assert cls.get_input(0).get_image().shape == (24, 32, 3)
    assert cls.get_input("model").get_path() == "model.pt"
    assert model.get_output("metrics").get_rows() == [{"epoch": 1}]
    assert cls.get_output(0).get_names() == ["dark", "bright"]
    assert json.loads(cls.get_output(0).to_json())["valueLabels"] == [["dark", "bright"]]
    assert [x.name for x in cls.get_inputs()] == ["image", "model"]

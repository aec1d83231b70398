"""What plugin authors get: documented value types with plain forms, and their mistakes reported, not passed
on."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pydantic import Field

from tests.workflow.tasks_for_tests import make_registry
from workflow import ParamError, PluginError, Port, PortError, Task, TaskParams, Workflow
from workflow.core import ports
from workflow.core.results import ClassificationResult, ClassScore, DetectionsResult
from workflow.display import display
from workflow.plugins.registry import Registry


# -- value types ----------------------------------------------------------------------------
def test_classification_ports_take_the_result_or_its_plain_forms_best_first():
    expected = ClassificationResult([ClassScore("cat", 3, 0.9), ClassScore("dog", 5, 0.1)])
    assert ports.Classification.check(expected) is expected
    assert ports.Classification.check([ClassScore("dog", 5, 0.1), ClassScore("cat", 3, 0.9)]) == expected
    assert ports.Classification.check([("dog", 5, 0.1), ("cat", 3, 0.9)]) == expected
    assert ports.Classification.check([("cat", 0.9), ("dog", "0.1")]).classes == [
        ClassScore("cat", -1, 0.9),
        ClassScore("dog", -1, 0.1),
    ]
    assert ports.Classification.check({"dog": 0.1, "cat": 0.9}).top == ClassScore("cat", -1, 0.9)
    with pytest.raises(
        TypeError,
        match=r"expected a ClassificationResult, a list of ClassScore / \(label, score\) / "
        r"\(label, index, score\) or a \{label: score\} dict, got ndarray",
    ):
        ports.Classification.check(np.zeros(3))
    with pytest.raises(TypeError, match=r"cannot read a class score from 0\.5"):
        ports.Classification.check([0.5, 0.5])


def test_detections_ports_take_the_result_or_a_list_of_boxes():
    assert ports.Detections.check([(1, 2, 3, 4)]).boxes == [(1.0, 2.0, 3.0, 4.0)]
    dets = DetectionsResult([(0, 0, 5, 5)], ["cat"], [0.8])
    assert ports.Detections.check(dets) is dets
    with pytest.raises(
        TypeError, match=r"expected a DetectionsResult or a list of \(x1, y1, x2, y2\) boxes, got list"
    ):
        ports.Detections.check([(1, 2, 3)])


def test_every_port_type_documents_its_value_and_declares_its_csv_columns():
    for dtype in ports.DATA_TYPES.values():
        assert dtype.__doc__ and dtype.__doc__.strip(), dtype
        assert isinstance(dtype.columns, tuple)
    samples = {
        ports.Classification: ClassificationResult([ClassScore("a", 0, 1.0)]),
        ports.Detections: DetectionsResult([(0, 0, 1, 1)], ["a"], [1.0]),
        ports.Path: Path("x"),
        ports.Table: [{}],
        ports.DataType: 3,
        ports.Image: np.zeros((2, 2, 3), np.uint8),
    }
    for dtype, value in samples.items():
        assert tuple(dtype.to_row(value)) == dtype.columns, dtype


def test_display_takes_what_get_results_returns(tmp_path):
    scores = [ClassScore("cat", 0, 0.7), ClassScore("dog", 1, 0.3)]
    assert display(scores, save_to=tmp_path / "a.png").stat().st_size > 0
    dets = DetectionsResult([(0, 0, 4, 4), (1, 1, 3, 3)], ["cat", "dog"], [0.9, 0.4])
    assert display(dets, save_to=tmp_path / "b.png").stat().st_size > 0


# -- author mistakes ----------------------------------------------------------------------------
def test_a_parameter_default_outside_its_own_range_is_an_error_naming_class_and_field():
    with pytest.raises(
        PluginError,
        match=r"tests\.workflow\.test_authoring\..*BadDefault: parameter 'level' default 0 "
        r"does not fit its own declaration int \(>= 1, <= 5\)",
    ):

        class BadParams(TaskParams):
            level: int = Field(0, ge=1, le=5)

        class BadDefault(Task):
            name = "bad_default"
            Params = BadParams


def test_a_plugin_module_with_a_nameless_task_warns_naming_plugin_and_class(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "nameless_plugin.py").write_text(
        "from workflow import Task\n\nclass Base(Task):\n    name = ''\n\nclass _Private(Task):\n    pass\n\n"
        "class Forgot(Base):\n    pass\n\nclass Good(Base):\n    name = 'good_one'\n"
    )
    with pytest.warns(
        RuntimeWarning,
        match=r"plugin '.*nameless_plugin\.py': class Forgot is a Task subclass without a "
        r"'name'; it is not registered",
    ) as record:
        names = Registry(use_entry_points=False, plugin_path=str(folder)).names()
    assert names == ["good_one"]
    assert len(record) == 1  # Base (name = "") and _Private are base classes on purpose


def test_a_task_that_never_sets_a_required_output_is_blamed_itself():
    class Lazy(Task):
        name = "lazy"
        inputs = (Port("image", ports.Image),)
        outputs = (Port("image", ports.Image), Port("note", ports.DataType, optional=True))

        def run(self) -> None:
            self.set_output("note", "forgot the image")

    wf = Workflow(registry=make_registry())
    wf.add_task(Lazy, auto_connect=True)
    wf.add_task("invert", auto_connect=True)
    with pytest.raises(
        PortError,
        match=r"task 'lazy' \(tests\.workflow\.test_authoring\..*Lazy\) did not set its "
        r"required output 'image' \(image\)",
    ):
        wf.run(image=np.zeros((4, 4, 3), np.uint8))
    result = wf.run_items([{"image": np.zeros((4, 4, 3), np.uint8)}])[0]
    assert "task 'lazy'" in result.error and "invert" not in result.error


def test_every_bad_parameter_is_reported_in_one_line():
    wf = Workflow(registry=make_registry())
    with pytest.raises(ParamError) as exc:
        wf.add_task("invert", params={"amount": 999, "scale": 0, "mode": "quarter", "colour": 1})
    message = str(exc.value)
    assert "\n" not in message and message.startswith("task 'invert': ")
    for part in (
        "unknown parameter 'colour'",
        "parameter 'amount' got 999, expected int (>= 0, <= 255)",
        "parameter 'scale' got 0, expected float (> 0)",
        "parameter 'mode' got 'quarter', expected one of 'full', 'half'",
    ):
        assert part in message, part


# -- unknown task names ---------------------------------------------------------------------------
def test_an_unknown_task_says_the_plugin_path_is_unset_and_suggests_only_close_names(monkeypatch):
    monkeypatch.delenv("WORKFLOW_PLUGIN_PATH", raising=False)
    reg = Registry(use_entry_points=False)
    reg.register(make_registry().get("make_model"))
    with pytest.raises(
        PluginError,
        match=r"^unknown task 'blur_image'; WORKFLOW_PLUGIN_PATH is not set, so no plugin "
        r"folder was searched; run 'workflow list'",
    ):
        reg.get("blur_image")


def test_an_unknown_task_names_the_plugins_that_failed_to_load(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "broken_blur.py").write_text("import not_a_module_anywhere\n")
    reg = Registry(use_entry_points=False, plugin_path=str(folder))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            PluginError,
            match=r"unknown task 'blur_image'; 1 plugin\(s\) failed to load: plugin "
            r"'.*broken_blur\.py' failed to import: ModuleNotFoundError",
        ):
            reg.get("blur_image")

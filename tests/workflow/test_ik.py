"""The `ik` namespace, `add_task` forms, ports by index and `get_image_with_graphics()` (no torch)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.workflow.tasks_for_tests import Invert, MakeModel, MeanClassifier, make_registry
from workflow import GraphError, ParamError, PortError, Workflow
from workflow.core.results import ClassScore
from workflow.plugins.registry import reset_default_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """The process-wide registry with the example package (entry points) and the example plugin folder."""
    from tests.workflow.test_plugins import PLUGIN_FOLDER, fake_install

    for path in fake_install(tmp_path / "site"):
        monkeypatch.syspath_prepend(path)
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(PLUGIN_FOLDER))
    for mod in ("workflow_blur.tasks", "workflow_blur.colors"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    reset_default_registry()
    yield
    reset_default_registry()


def photo(value: int = 200) -> np.ndarray:
    img = np.full((24, 32, 3), value, np.uint8)
    img[..., 0] = 250
    return img


# -- the ik namespace ------------------------------------------------------------------
def test_dir_lists_builtin_entry_point_and_plugin_folder_tasks_without_importing_them(plugins):
    from workflow.plugins import ik

    names = dir(ik)
    assert {
        "infer_torchvision_resnext",
        "train_torchvision_resnext",
        "blur_image",
        "dominant_color",
        "grayscale",
    } <= set(names)
    assert "workflow_blur.colors" not in sys.modules  # listing imported no entry-point plugin
    ik.dominant_color  # noqa: B018 (asking for the attribute is the test)
    assert "workflow_blur.colors" in sys.modules  # asking for one imports it


def test_a_third_party_task_gets_its_signature_and_docstring_from_its_parameters(plugins):
    from workflow.plugins import ik

    sig = inspect.signature(ik.blur_image)
    assert list(sig.parameters) == ["kernel", "radius"]
    assert (
        sig.parameters["radius"].default == 2
        and sig.parameters["radius"].kind is inspect.Parameter.KEYWORD_ONLY
    )
    doc = ik.blur_image.__doc__
    assert "radius (int (>= 1, <= 50), default 2; also kernel_radius): filter radius in pixels" in doc
    assert "kernel (one of 'gaussian', 'box', 'median', default 'gaussian'): blur filter" in doc
    assert "0: image (image): image to blur" in doc
    assert ik.blur_image.__name__ == "blur_image"


def test_ik_tasks_take_strings_or_native_values_and_validate_at_once(plugins):
    from workflow.plugins import ik

    task = ik.blur_image(kernel="box", kernel_radius="3")
    assert (task.name, task.params.kernel, task.params.radius) == ("blur_image", "box", 3)
    assert ik.dominant_color(top_k=2).params.top_k == 2
    with pytest.raises(
        ParamError, match=r"task 'blur_image': parameter 'radius' got 0, expected int \(>= 1, <= 50\)"
    ):
        ik.blur_image(radius=0)
    with pytest.raises(AttributeError, match=r"unknown task 'blur_imag' \(did you mean 'blur_image'\?\)"):
        ik.blur_imag  # noqa: B018 (the lookup is what raises)


def test_an_ik_task_added_to_a_workflow_runs(plugins):
    from workflow.plugins import ik

    wf = Workflow()
    gray = wf.add_task(ik.grayscale(method="mean"), auto_connect=True)
    color = wf.add_task(ik.dominant_color(top_k="1"), auto_connect=True)
    wf.connect(None, color, {0: 0})  # the colour of the original image, not of the gray one
    wf.run(image=photo())
    assert gray.get_output(0).get_image().shape == (24, 32, 3)
    assert [c.label for c in color.get_results()] == ["red"]


def test_ik_entries_are_classes_shaped_as_ikomia_generates_them(plugins):
    """IkomiaApi ikomia/utils/autocomplete.py: a class per algorithm, name() static, one attribute per
    parameter holding its name; calling it returns the configured task, not an instance of the class."""
    from workflow.plugins import ik

    blur = ik.blur_image
    assert isinstance(blur, type) and blur is ik.blur_image
    assert blur.name() == "blur_image"
    assert (blur.radius, blur.kernel) == ("radius", "kernel")
    assert blur.kernel_radius == "kernel_radius"  # an alias the task accepts is an attribute too
    task = blur(radius="4")
    assert not isinstance(task, blur) and task.name == "blur_image" and task.params.radius == 4
    task.set_parameters({blur.kernel: "box", blur.kernel_radius: "2"})
    assert task.get_parameters() == {"kernel": "box", "radius": "2"}
    for key in task.get_parameters():
        assert getattr(blur, key) == key
    with pytest.raises(TypeError):
        blur("box")  # keyword arguments only, as the signature says


def test_ik_attribute_names_follow_ikomias_rules():
    from workflow.plugins.ik import attribute_name

    assert attribute_name("input_size") == "input_size"
    assert attribute_name("class") == "class_" and attribute_name("lambda") == "lambda_"
    assert attribute_name("kernel size[0]") == "kernelsize0" and attribute_name("conf-thres") == "confthres"
    assert attribute_name("3d") == ""  # no identifier: reachable by its string only


# -- add_task forms ------------------------------------------------------------------------------
def test_add_task_takes_a_name_positional_or_keyword_an_instance_or_a_class():
    wf = Workflow(registry=make_registry())
    a = wf.add_task("invert", params={"amount": "100"}, auto_connect=True)
    b = wf.add_task(name="invert")
    c = wf.add_task(Invert({"mode": "half"}))
    d = wf.add_task(Invert, params={"amount": 7})
    e = wf.add_task("invert", name="invert", task_id="mine")
    assert [t.id for t in wf.tasks] == ["invert", "invert_1", "invert_2", "invert_3", "mine"]
    assert (a.params.amount, c.params.mode, d.params.amount) == (100, "half", 7)
    assert all(isinstance(t, Invert) for t in (a, b, c, d, e))
    with pytest.raises(GraphError, match=r"add_task got two task names: 'invert' and name='make_model'"):
        wf.add_task("invert", name="make_model")
    with pytest.raises(
        GraphError, match=r"add_task takes a task name, a Task instance or a Task class, got int"
    ):
        wf.add_task(3)
    with pytest.raises(GraphError, match=r"add_task needs a task name, a task instance or a task class"):
        wf.add_task()


# -- ports by index --------------------------------------------------------------------------------
def test_ports_by_index_everywhere_a_port_is_named():
    wf = Workflow(registry=make_registry())
    model = wf.add_task(MakeModel)
    cls = wf.add_task(MeanClassifier)
    wf.connect(None, cls, {0: 0})  # workflow input 0 (image) -> input 0 (image)
    wf.connect(model, cls, {0: 1})  # model's output 0 (model) -> input 1 (model)
    assert {(e.src, e.src_port, e.dst_port) for e in wf.edges if e.dst == cls.id} == {
        ("$inputs", "image", "image"),
        ("make_model", "model", "model"),
    }
    wf.add_output("verdict", cls, 0)
    out = wf.run(image=photo(10))
    assert out["verdict"] is cls.get_output(0).data is cls.get_output("classification").data
    assert cls.get_input(1).get_path() == "model.pt" and cls.get_input(0).get_image().shape == (24, 32, 3)
    assert cls.get_input(1).data == Path("model.pt")
    cls.set_output(0, [("dark", 0.7), ("bright", 0.3)])
    assert cls.get_output("classification").data.top == ClassScore("dark", -1, 0.7)


def test_pipeline_references_take_port_indexes_and_are_saved_by_name():
    from workflow.pipeline.build import dump_workflow, loads_workflow

    text = (
        "version: 1\ninputs: {image: {type: image}}\ntasks:\n  - {id: m, task: make_model}\n"
        "  - {id: c, task: mean_classifier, inputs: {image: $inputs.image, model: $steps.m.0}}\n"
        "outputs: {verdict: $steps.c.0}\n"
    )
    wf = loads_workflow(text, make_registry(), graph_cls=Workflow)
    assert wf.outputs == {"verdict": ("c", "classification")}
    assert "model: $steps.m.model" in dump_workflow(
        wf
    ) and "verdict: $steps.c.classification" in dump_workflow(wf)


def test_a_bad_port_index_or_name_lists_both_forms():
    wf = Workflow(registry=make_registry())
    cls = wf.add_task(MeanClassifier)
    with pytest.raises(
        PortError,
        match=r"task 'mean_classifier' has no output port 3; outputs by index or name: "
        r"0 'classification'$",
    ):
        cls.get_output(3)
    with pytest.raises(
        PortError,
        match=r"has no input port 'modle' \(did you mean 'model'\?\); inputs by index or name: "
        r"0 'image', 1 'model'",
    ):
        cls.get_input("modle")
    with pytest.raises(
        PortError, match=r"workflow 'workflow' has no input 2; inputs by index or name: 0 'image'"
    ):
        wf.connect(None, cls, {2: 0})


# -- get_image_with_graphics from the engine -------------------------------------------------------
def test_any_task_with_an_image_output_has_get_image_with_graphics():
    wf = Workflow(registry=make_registry())
    inv = wf.add_task("invert", auto_connect=True)
    wf.run(image=photo())
    assert np.array_equal(inv.get_image_with_graphics(), 255 - photo())
    cls = wf.add_task(MeanClassifier, auto_connect=True)
    assert cls.get_image_with_graphics() is None  # no image output


def test_ik_has_the_builtin_inference_task_with_ikomia_parameters():
    reset_default_registry()
    from workflow.plugins import ik

    doc = ik.infer_torchvision_resnext.__doc__
    assert "dataset (" in doc and "cuda" in doc
    task = ik.infer_torchvision_resnext(model_name="resnext50", cuda="False")
    assert task.params.device == "cpu"
    assert task.get_results() == []  # nothing run yet: an empty top-k list, no model loaded

"""Workflow files: .json is JSON and .yaml/.yml YAML (the same version-1 content, exact round trip),
Workflow.load on the class, on an instance (Ikomia: adds to it) and as workflow.load, and workflow files
exported by Ikomia (IkomiaCore's CWorkflow JSON) with one-line errors for what cannot be mapped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import workflow
from tests.workflow.tasks_for_tests import make_registry
from tests.workflow.test_pipeline import build_graph, graph_of
from workflow import GraphError, PipelineError, Workflow
from workflow.graph.graph import INPUTS, Edge
from workflow.pipeline.build import dump_workflow, load_workflow, validate_file


@pytest.fixture
def reg():
    return make_registry()


# -- our format, in JSON or YAML --------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_each_suffix_round_trips_exactly(reg, tmp_path, suffix):
    wf = build_graph(reg)
    wf.save(tmp_path / f"a{suffix}")
    again = Workflow.load(tmp_path / f"a{suffix}", registry=reg)
    assert graph_of(again) == graph_of(wf)
    again.save(tmp_path / f"b{suffix}")
    assert (tmp_path / f"b{suffix}").read_text() == (tmp_path / f"a{suffix}").read_text()


def test_json_and_yaml_files_hold_the_same_document(reg, tmp_path):
    wf = build_graph(reg)
    wf.save(tmp_path / "p.json")
    wf.save(tmp_path / "p.yaml")
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc == yaml.safe_load((tmp_path / "p.yaml").read_text())
    assert doc["version"] == 1 and [t["id"] for t in doc["tasks"]] == ["invert", "trainer", "cls", "cls2"]
    assert json.loads(dump_workflow(wf, fmt="json")) == yaml.safe_load(dump_workflow(wf))


def test_another_suffix_is_a_one_line_error(reg, tmp_path):
    with pytest.raises(PipelineError, match=r"p\.txt: unknown pipeline file type '\.txt' \(use \.json"):
        build_graph(reg).save(tmp_path / "p.txt")
    (tmp_path / "p.txt").write_text("version: 1\ntasks: []\n")
    with pytest.raises(PipelineError, match=r"p\.txt: unknown pipeline file type '\.txt'") as err:
        Workflow.load(tmp_path / "p.txt", registry=reg)
    assert "\n" not in str(err.value)
    assert [str(p) for p in validate_file(tmp_path / "p.txt", reg)] == [
        f"{tmp_path / 'p.txt'}: unknown pipeline file type '.txt' (use .json for JSON, .yaml or .yml for YAML)"
    ]


def test_json_problems_are_located_one_line(reg, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "version": 1,\n  "tasks": [\n    {"id": "x", "task": "invert",}\n  ]\n}\n')
    with pytest.raises(PipelineError, match=r"bad\.json:4: json: syntax error: Expecting property name"):
        load_workflow(bad, reg)
    dup = tmp_path / "dup.json"
    dup.write_text('{\n  "version": 1,\n  "tasks": [],\n  "tasks": []\n}\n')
    with pytest.raises(PipelineError, match=r"dup\.json:4: tasks: duplicate key \(first at line 3\)"):
        load_workflow(dup, reg)
    param = tmp_path / "param.json"
    doc = {"version": 1, "inputs": {"image": {"type": "image"}}, "tasks": [{"id": "inv", "task": "invert"}]}
    doc["tasks"][0]["params"] = {"amont": 3}
    param.write_text(json.dumps(doc, indent=2))
    with pytest.raises(
        PipelineError, match=r"param\.json:\d+: task 'inv': params\.amont: .*did you mean 'amount'"
    ):
        load_workflow(param, reg)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(PipelineError, match=r"list\.json:1: document: expected a mapping"):
        load_workflow(tmp_path / "list.json", reg)


# -- load on the class, on an instance, and workflow.load ---------------------------------------------------
def test_load_on_an_instance_adds_the_files_tasks_as_ikomia_does(reg, tmp_path):
    build_graph(reg).save(tmp_path / "p.json")
    empty = Workflow(registry=reg)
    assert empty.load(tmp_path / "p.json") is empty
    assert graph_of(empty) == graph_of(build_graph(reg))  # an empty workflow holds the file's graph

    wf = Workflow("mine", registry=reg)
    mine = wf.add_task(name="invert", auto_connect=True)
    wf.load(tmp_path / "p.json")
    assert wf.name == "round-trip"  # the file's name, as Ikomia's load takes it
    assert [t.id for t in wf.tasks] == ["invert", "invert_1", "trainer", "cls", "cls2"]
    assert wf.tasks[0] is mine and Edge(INPUTS, "image", "invert_1", "image") in wf.edges
    assert Edge("invert_1", "image", "cls", "image") in wf.edges  # the file's edges follow the new id
    assert wf.outputs["annotated"] == ("invert_1", "image") and set(wf.inputs) == {"image", "extra"}
    out = wf.run(image=np.full((2, 2, 3), 20, np.uint8), extra=np.full((2, 2, 3), 20, np.uint8))
    assert out["prediction"].top.label == "dark"  # 100 - 20


def test_load_into_a_workflow_refuses_clashes_and_changes_nothing(reg, tmp_path):
    build_graph(reg).save(tmp_path / "p.yaml")
    wf = Workflow(inputs={"extra": "model"}, registry=reg)
    with pytest.raises(
        GraphError, match=r"input 'extra' is model here and image in 'round-trip' \(.*p\.yaml\)"
    ):
        wf.load(tmp_path / "p.yaml")
    assert wf.tasks == [] and wf.name == "workflow"


def test_module_level_load_and_create(reg, tmp_path):
    build_graph(reg).save(tmp_path / "p.json")
    wf = workflow.load(str(tmp_path / "p.json"), registry=reg)
    assert isinstance(wf, Workflow) and graph_of(wf) == graph_of(build_graph(reg))
    assert workflow.create("fresh").name == "fresh" and workflow.create().tasks == []


# -- files exported by Ikomia --------------------------------------------------------------------------------
def ikomia_doc(tasks, connections, name="from ikomia", **extra):
    """A workflow as IkomiaCore's CWorkflow::saveJSON writes it (tasks: (task_id, name, params))."""
    return {
        "api": {"version": "0.15.0", "python_version": "3.11"},
        "metadata": {"name": name, "description": "", "keywords": ""},
        "tasks": [
            {
                "task_id": tid,
                "task_data": {
                    "name": task,
                    "language": 1,
                    "parameters": [{"name": k, "value": v} for k, v in sorted(params.items())],
                    "inputs": [{"name": "IODataType.IMAGE"}],
                    "outputs": [{"name": "IODataType.IMAGE"}],
                },
            }
            for tid, task, params in tasks
        ],
        "connections": [
            {"source_id": s, "source_index": si, "target_id": t, "target_index": ti}
            for s, si, t, ti in connections
        ],
        "exposed_parameters": [{"name": "", "description": "", "task_id": "0", "task_param_name": "amount"}],
        "exposed_outputs": [],
        "hardware_config": {"min_cpu": 0, "min_ram": 0, "is_gpu_required": False, "min_vram": 0},
        **extra,
    }


def write(tmp_path, doc, name="ik.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=4))
    return path


def test_an_ikomia_file_maps_tasks_string_params_aliases_connections_and_outputs(reg, tmp_path):
    doc = ikomia_doc(
        [
            (3, "invert", {"amount": "100", "enabled": "True", "model_path": "w.pt", "note": ""}),
            (7, "mean_classifier", {}),
            (9, "make_model", {}),
        ],
        [(-1, 0, 3, 0), (3, 0, 7, 0), (9, 0, 7, 1)],
        exposed_outputs=[{"task_id": 7, "task_output_index": 0, "description": "the class"}],
    )
    wf = Workflow.load(write(tmp_path, doc), registry=reg)
    assert wf.name == "from ikomia" and dict(wf.inputs) == {"image": workflow.ports.Image}
    inv = wf.get_task("invert")
    assert inv.params.amount == 100 and inv.params.note is None
    assert inv.params.weight_file == "w.pt"  # given under its alias (an Ikomia name)
    assert set(wf.edges) == {
        Edge(INPUTS, "image", "invert", "image"),
        Edge("invert", "image", "mean_classifier", "image"),
        Edge("make_model", "model", "mean_classifier", "model"),
    }
    assert wf.outputs == {"mean_classifier.classification": ("mean_classifier", "classification")}
    out = wf.run(image=np.full((2, 2, 3), 90, np.uint8))
    assert out["mean_classifier.classification"].top.label == "dark"  # 100 - 90


def test_an_ikomia_file_with_two_tasks_of_one_name_and_no_root_input(reg, tmp_path):
    doc = ikomia_doc([(0, "make_model", {}), (1, "mean_classifier", {}), (2, "invert", {})], [])
    doc["connections"] = [
        {"source_id": 2, "source_index": 0, "target_id": 1, "target_index": 0},
        {"source_id": -1, "source_index": 0, "target_id": 2, "target_index": 0},
    ]
    doc["tasks"].append({"task_id": 5, "task_data": {"name": "invert", "parameters": []}})  # an older file
    doc["connections"].append({"source_id": -1, "source_index": 0, "target_id": 5, "target_index": 0})
    wf = workflow.load(str(write(tmp_path, doc)), registry=reg)
    assert [t.id for t in wf.tasks] == ["make_model", "mean_classifier", "invert", "invert_1"]
    assert Edge(INPUTS, "image", "invert_1", "image") in wf.edges


@pytest.mark.parametrize(
    "tasks, connections, message",
    [
        (
            [(0, "infer_yolo_v7", {"conf_thres": "0.25"})],
            [(-1, 0, 0, 0)],
            r"ik\.json:\d+: task #1: task_data\.name: Ikomia task 'infer_yolo_v7' cannot be created here: "
            r"unknown task 'infer_yolo_v7'",
        ),
        (
            [(0, "invert", {}), (1, "mean_classifier", {})],
            [(0, 0, 1, 2)],
            r"ik\.json:\d+: connections\[0\]\.target_index: task 'mean_classifier' has no input 2; "
            r"inputs by index: 0 'image', 1 'model'",
        ),
        (
            [(0, "invert", {})],
            [(4, 0, 0, 0)],
            r"ik\.json:\d+: connections\[0\]\.source_id: no task with task_id 4 \(the root is -1\)",
        ),
        (
            [(0, "invert", {"amount": "lots"})],
            [(-1, 0, 0, 0)],
            r"ik\.json:\d+: task 'invert': params\.amount: .*'lots'",
        ),
        (
            [(0, "invert", {"colour": "red"})],
            [(-1, 0, 0, 0)],
            r"ik\.json:\d+: task 'invert': params\.colour: unknown parameter 'colour'",
        ),
        (
            [(0, "make_model", {}), (1, "invert", {})],
            [(0, 0, 1, 0)],
            r"ik\.json:\d+: task 'invert': inputs\.image: input 'image' \(image\) cannot take "
            r"\$steps\.make_model\.model \(model\)",
        ),
        (
            [(0, "invert", {})],
            [],
            r"ik\.json:\d+: task 'invert': inputs: required input 'image' \(image\) is not connected",
        ),
    ],
)
def test_what_cannot_be_mapped_is_one_line_naming_the_file_task_and_field(
    reg, tmp_path, tasks, connections, message
):
    path = write(tmp_path, ikomia_doc(tasks, connections))
    with pytest.raises(PipelineError, match=message) as err:
        workflow.load(str(path), registry=reg)
    assert "\n" not in str(err.value)
    assert validate_file(path, reg)  # the same problems, listed

"""Pipeline files: staged validation with located one-line errors, and the load/save round trip."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import yaml

from tests.workflow.tasks_for_tests import MakeModel, make_registry
from workflow import PipelineError, Workflow
from workflow.graph.graph import INPUTS, Edge
from workflow.pipeline.build import dump_workflow, load_workflow, loads_workflow, save_workflow, validate_file
from workflow.pipeline.schema import pipeline_json_schema

HEAD = "version: 1\ninputs:\n  image: {type: image}\n"


@pytest.fixture
def reg():
    return make_registry()


def load(text: str, reg, source: str = "p.yaml") -> Workflow:
    return loads_workflow(text, reg, source=source, graph_cls=Workflow)


def test_load_auto_connects_in_file_order_and_keeps_params(reg):
    wf = load(
        HEAD
        + textwrap.dedent("""\
        name: demo
        tasks:
          - id: inv
            task: invert
            params: {amount: "200", mode: half}
          - id: cls
            task: mean_classifier
        outputs:
          pred: $steps.cls.classification
        """),
        reg,
    )
    assert wf.name == "demo"
    assert [t.id for t in wf.tasks] == ["inv", "cls"]
    assert wf.get_task("inv").params.amount == 200
    assert set(wf.edges) == {Edge(INPUTS, "image", "inv", "image"), Edge("inv", "image", "cls", "image")}
    out = wf.run(image=np.full((4, 4, 3), 10, np.uint8))
    assert out["pred"].top.label == "bright"  # 200 - 10 = 190 is bright


def test_explicit_references_may_point_forward(reg):
    wf = load(
        HEAD
        + textwrap.dedent("""\
        tasks:
          - id: cls
            task: mean_classifier
            inputs: {image: $inputs.image, model: $steps.train.model}
          - id: train
            task: make_model
        """),
        reg,
    )
    assert [t.id for t in wf.order()] == ["train", "cls"]
    assert Edge("train", "model", "cls", "model") in wf.edges


def test_loading_runs_no_task(reg):
    MakeModel.runs = 0
    load("version: 1\ntasks:\n  - {id: m, task: make_model}\n", reg)
    assert MakeModel.runs == 0


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "version: 1\ntasks:\n  - id: a\n   task: b: c\n",
            r"^p\.yaml:4: yaml: syntax error: expected <block end>",
        ),
        (
            "version: 1\ntasks: !!python/object/apply:os.system ['echo owned']\n",
            r"^p\.yaml:2: yaml: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: "
            r".*safe YAML loader",
        ),
        ("", r"^p\.yaml:1: document: the file is empty"),
        ("# only a comment\n", r"^p\.yaml:1: document: the file is empty"),
        (
            "- a\n- b\n",
            r"^p\.yaml:1: document: expected a mapping with keys version, name, inputs, tasks, outputs; got list",
        ),
        (
            "version: 2\ntasks: []\n",
            r"^p\.yaml:1: version: unsupported version 2; this toolkit reads version 1$",
        ),
        ("version: '1'\ntasks: []\n", r"^p\.yaml:1: version: expected an integer, got '1'"),
        (
            "version: 1\ntask: []\n",
            r"^p\.yaml:2: task: unknown key \(did you mean 'tasks'\?\); valid keys: version, name",
        ),
        ("version: 1\nversion: 1\ntasks: []\n", r"^p\.yaml:2: version: duplicate key \(first at line 1\)"),
        ("version: 1\ntasks:\n  - task: invert\n", r"^p\.yaml:3: task #1: id: required key is missing"),
        (
            "version: 1\ntasks:\n  - id: a\n    task: invert\n    parms: {}\n",
            r"^p\.yaml:5: task 'a': parms: unknown key \(did you mean 'params'\?\)",
        ),
        (
            "version: 1\ntasks:\n  - id: a\n    task: make_model\n    params: [1]\n",
            r"^p\.yaml:5: task 'a': params: expected a mapping, got \[1\]",
        ),
        (
            "version: 1\ntasks:\n  - {id: 'a.b', task: make_model}\n",
            r"^p\.yaml:3: task 'a\.b': id: String should match pattern",
        ),
        (
            "version: 1\ntasks: [hello]\n",
            r"^p\.yaml:2: task #1: tasks\[0\]: expected a mapping with keys id, task, params, inputs",
        ),
        (
            "version: 1\ntasks:\n  - {id: a, task: make_model}\n  - {id: a, task: make_model}\n",
            r"^p\.yaml:4: task 'a': id: duplicate id 'a' \(also task #1, line 3\)",
        ),
        (
            "version: 1\ninputs: {image: {type: imag}}\ntasks: []\n",
            r"^p\.yaml:2: inputs\.image\.type: unknown data type 'imag' \(did you mean 'image'\?\)",
        ),
    ],
)
def test_file_and_schema_errors_name_line_and_field(reg, text, match):
    with pytest.raises(PipelineError, match=match):
        loads_workflow(text, reg, source="p.yaml")


def test_unknown_task_suggests_the_closest_name(reg):
    with pytest.raises(
        PipelineError, match=r"^p\.yaml:6: task 'b': task: unknown task 'invertt' \(did you mean 'invert'\?\)"
    ):
        load(HEAD + "tasks:\n  - id: b\n    task: invertt\n", reg)


def test_unknown_param_is_located_and_suggests(reg):
    text = HEAD + "tasks:\n  - id: inv\n    task: invert\n    params:\n      scale: 2\n      amout: 3\n"
    with pytest.raises(
        PipelineError,
        match=r"^p\.yaml:9: task 'inv': params\.amout: unknown parameter 'amout' "
        r"\(did you mean 'amount'\?\)",
    ):
        load(text, reg)


def test_bad_param_value_names_task_param_value_and_expectation(reg):
    text = HEAD + "tasks:\n  - id: inv\n    task: invert\n    params:\n      mode: full\n      amount: 400\n"
    with pytest.raises(
        PipelineError,
        match=r"^p\.yaml:9: task 'inv': params\.amount: parameter 'amount' got 400, "
        r"expected int \(>= 0, <= 255\)",
    ):
        load(text, reg)


def test_param_given_by_alias_is_located_by_its_key(reg):
    wf = load(HEAD + "tasks:\n  - id: inv\n    task: invert\n    params: {model_path: w.pt}\n", reg)
    assert wf.get_task("inv").get_parameters()["weight_file"] == "w.pt"
    with pytest.raises(
        PipelineError, match=r"^p\.yaml:8: task 'inv': params\.model_path: parameter 'weight_file' got"
    ):
        load(HEAD + "tasks:\n  - id: inv\n    task: invert\n    params:\n      model_path: [1]\n", reg)


@pytest.mark.parametrize(
    "ref, match",
    [
        ("$steps.b.image", r"unknown step 'b' in '\$steps\.b\.image'; steps: m, inv"),
        ("$steps.invv.image", r"unknown step 'invv' .*\(did you mean 'inv'\?\)"),
        (
            "$inputs.imag",
            r"unknown workflow input 'imag' in '\$inputs\.imag' \(did you mean 'image'\?\); declared inputs: image",
        ),
        ("image", r"malformed reference 'image'; expected '\$inputs\.<name>' or '\$steps\.<id>\.<port>'"),
        ("$steps.m.modle", r"task 'make_model' has no output port 'modle' \(did you mean 'model'\?\)"),
    ],
)
def test_dangling_and_malformed_references(reg, ref, match):
    text = (
        HEAD
        + f"tasks:\n  - id: m\n    task: make_model\n  - id: inv\n    task: invert\n    inputs: {{image: '{ref}'}}\n"
    )
    with pytest.raises(PipelineError, match=r"^p\.yaml:9: task 'inv': inputs\.image: " + match):
        load(text, reg)


def test_unknown_input_port_of_the_task(reg):
    with pytest.raises(
        PipelineError,
        match=r"^p\.yaml:8: task 'inv': inputs\.imgae: task 'invert' has no input port "
        r"'imgae' \(did you mean 'image'\?\)",
    ):
        load(HEAD + "tasks:\n  - id: inv\n    task: invert\n    inputs:\n      imgae: $inputs.image\n", reg)


def test_type_incompatible_explicit_edge(reg):
    text = (
        HEAD + "tasks:\n  - id: m\n    task: make_model\n  - id: inv\n    task: invert\n"
        "    inputs:\n      image: $steps.m.metrics\n"
    )
    with pytest.raises(
        PipelineError,
        match=r"^p\.yaml:10: task 'inv': inputs\.image: input 'image' \(image\) cannot take "
        r"\$steps\.m\.metrics \(table\)",
    ):
        load(text, reg)


def test_cycle_is_reported_on_the_edge_that_closes_it(reg):
    text = HEAD + textwrap.dedent("""\
        tasks:
          - id: a
            task: invert
            inputs: {image: $steps.b.image}
          - id: b
            task: invert
            inputs: {image: $steps.a.image}
        """)
    with pytest.raises(
        PipelineError, match=r"^p\.yaml:\d+: task '[ab]': inputs\.image: cycle: (a -> b -> a|b -> a -> b)$"
    ):
        load(text, reg)


def test_self_loop_is_a_cycle(reg):
    with pytest.raises(PipelineError, match=r"^p\.yaml:8: task 'a': inputs\.image: cycle: a -> a$"):
        load(HEAD + "tasks:\n  - id: a\n    task: invert\n    inputs:\n      image: $steps.a.image\n", reg)


def test_auto_connect_failure_names_the_task_and_what_is_on_offer(reg):
    with pytest.raises(
        PipelineError,
        match=r"^p\.yaml:4: task 'inv': inputs: auto-connect: required input 'image' "
        r"\(image\) has no compatible output .*on offer: \$steps\.m\.model \(model\)",
    ):
        loads_workflow(
            "version: 1\ntasks:\n  - {id: m, task: make_model}\n  - {id: inv, task: invert}\n",
            reg,
            source="p.yaml",
        )


def test_explicit_inputs_leave_optional_ports_empty_but_not_required_ones(reg):
    wf = load(
        HEAD + "tasks:\n  - id: m\n    task: make_model\n  - id: c\n    task: mean_classifier\n"
        "    inputs: {image: $inputs.image}\n",
        reg,
    )
    assert [e for e in wf.edges if e.dst == "c"] == [
        Edge(INPUTS, "image", "c", "image")
    ]  # model stays unwired
    with pytest.raises(
        PipelineError,
        match=r"^p\.yaml:9: task 'c': inputs: required input 'image' \(image\) is not connected",
    ):
        load(
            HEAD
            + "tasks:\n  - id: m\n    task: make_model\n  - id: c\n    task: mean_classifier\n    inputs: {}\n",
            reg,
        )


def test_outputs_must_name_existing_step_outputs(reg):
    with pytest.raises(PipelineError, match=r"^p\.yaml:7: outputs\.x: outputs must name a step output"):
        load(HEAD + "tasks:\n  - {id: inv, task: invert}\noutputs:\n  x: $inputs.image\n", reg)
    with pytest.raises(
        PipelineError, match=r"outputs\.y: task 'invert' has no output port 'imag' \(did you mean 'image'\?\)"
    ):
        load(HEAD + "tasks:\n  - {id: inv, task: invert}\noutputs:\n  y: $steps.inv.imag\n", reg)


def test_validate_file_lists_every_problem_of_the_stage(reg, tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + "tasks:\n  - {id: a, task: invertt}\n  - {id: b, task: mean_clasifier}\n")
    problems = validate_file(path, reg)
    assert [p.task_id for p in problems] == ["a", "b"]
    assert [p.line for p in problems] == [5, 6]
    assert "did you mean 'mean_classifier'" in str(problems[1])
    with pytest.raises(PipelineError, match=r"unknown task 'invertt'.*\(and 1 more problem\)$") as info:
        load_workflow(path, reg)
    assert len(info.value.problems) == 2


def test_validate_file_of_a_good_pipeline_is_empty_and_missing_file_is_a_problem(reg, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(HEAD + "tasks:\n  - {id: inv, task: invert}\n")
    assert validate_file(good, reg) == []
    with pytest.raises(PipelineError, match=r"nope\.yaml: cannot read the pipeline file: No such file"):
        load_workflow(tmp_path / "nope.yaml", reg)


def build_graph(reg) -> Workflow:
    wf = Workflow(name="round-trip", inputs={"image": "image", "extra": "image"}, registry=reg)
    inv = wf.add_task(
        name="invert", params={"amount": "100", "mode": "half", "model_path": "w.pt"}, auto_connect=True
    )
    wf.add_task(name="make_model", task_id="trainer")
    cls = wf.add_task(name="mean_classifier", task_id="cls")
    wf.connect(inv, cls, {"image": "image"})
    wf.connect("trainer", cls, {"model": "model"})
    cls2 = wf.add_task(name="mean_classifier", task_id="cls2")
    wf.connect(None, cls2, {"extra": "image"})
    wf.add_output("prediction", cls, "classification")
    wf.add_output("annotated", inv, "image")
    return wf


def graph_of(wf: Workflow):
    return (
        wf.name,
        dict(wf.inputs),
        [(t.id, t.name, t.get_parameters()) for t in wf.tasks],
        set(wf.edges),
        dict(wf.outputs),
    )


def test_round_trip_load_save_load_gives_the_same_graph(reg, tmp_path):
    wf = build_graph(reg)
    save_workflow(wf, tmp_path / "a.yaml")
    again = load_workflow(tmp_path / "a.yaml", reg, graph_cls=Workflow)
    assert graph_of(again) == graph_of(wf)
    again.save(tmp_path / "b.yaml")
    assert (tmp_path / "b.yaml").read_text() == (tmp_path / "a.yaml").read_text()
    assert graph_of(Workflow.load(tmp_path / "b.yaml", registry=reg)) == graph_of(wf)


def test_saved_file_has_explicit_refs_and_only_non_default_params(reg):
    doc = yaml.safe_load(dump_workflow(build_graph(reg)))
    tasks = {t["id"]: t for t in doc["tasks"]}
    assert tasks["invert"]["params"] == {"amount": 100, "mode": "half", "weight_file": "w.pt"}
    assert "params" not in tasks["cls"]
    assert tasks["invert"]["inputs"] == {"image": "$inputs.image"}
    assert tasks["cls"]["inputs"] == {"image": "$steps.invert.image", "model": "$steps.trainer.model"}
    assert tasks["cls2"]["inputs"] == {"image": "$inputs.extra"}
    assert "inputs" not in tasks["trainer"]  # no input ports
    assert doc["outputs"] == {"prediction": "$steps.cls.classification", "annotated": "$steps.invert.image"}


def test_round_trip_of_an_auto_connected_file_keeps_unwired_optional_ports(reg):
    wf = load(HEAD + "tasks:\n  - {id: c, task: mean_classifier}\n  - {id: m, task: make_model}\n", reg)
    assert not [e for e in wf.edges if e.dst_port == "model"]  # make_model comes after c: not auto-connected
    again = loads_workflow(dump_workflow(wf), reg)
    assert graph_of(again) == graph_of(wf)


def test_save_refuses_what_the_format_cannot_express(reg, tmp_path):
    wf = Workflow(registry=reg)
    wf.add_task(name="invert", task_id="my step", auto_connect=True)
    with pytest.raises(PipelineError, match=r"task 'my step': id cannot be written"):
        save_workflow(wf, tmp_path / "x.yaml")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_json_schema_describes_the_format_and_each_tasks_params(reg):
    schema = pipeline_json_schema(reg)
    json.dumps(schema)
    assert schema["required"] == ["version", "tasks"]
    assert schema["additionalProperties"] is False
    task_def = schema["$defs"]["TaskSpec"]
    assert task_def["properties"]["task"]["enum"] == reg.names()
    rule = next(r for r in task_def["allOf"] if r["if"]["properties"]["task"]["const"] == "invert")
    params = schema["$defs"][rule["then"]["properties"]["params"]["$ref"].split("/")[-1]]
    assert params["properties"]["mode"]["enum"] == ["full", "half"]
    assert params["properties"]["amount"]["maximum"] == 255
    assert "allOf" not in pipeline_json_schema(reg, with_params=False)["$defs"]["TaskSpec"]

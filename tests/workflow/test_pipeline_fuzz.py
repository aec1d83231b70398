"""Property-based tests: mutated pipeline files load, or fail with a located PipelineError, nothing else.

Valid pipelines (over the tiny test tasks) are mutated structurally (dropped and
renamed keys, wrong types, unknown tasks, broken and cyclic references, huge
numbers, unicode) and textually (cut, spliced characters), plus odd documents.
A file that loads must also survive a save/load round trip unchanged.
"""

from __future__ import annotations

import copy
import re

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.workflow.tasks_for_tests import make_registry
from workflow import PipelineError, Workflow
from workflow.pipeline.build import dump_workflow, loads_workflow
from workflow.pipeline.schema import one_line

REG = make_registry()
SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE = "fuzz.yaml"
LOCATED = re.compile(r"^fuzz\.yaml:\d+: (task ('[^']*'|#\d+): )?\S")

BASES = [
    {
        "version": 1,
        "name": "classify",
        "inputs": {"image": {"type": "image"}},
        "tasks": [
            {"id": "inv", "task": "invert", "params": {"amount": 200, "mode": "half", "note": "ü"}},
            {"id": "train", "task": "make_model"},
            {
                "id": "cls",
                "task": "mean_classifier",
                "inputs": {"image": "$steps.inv.image", "model": "$steps.train.model"},
            },
        ],
        "outputs": {"pred": "$steps.cls.classification", "inverted": "$steps.inv.image"},
    },
    {
        "version": 1,
        "inputs": {"image": {"type": "image"}, "other": {"type": "annotated_image"}},
        "tasks": [
            {"id": "a", "task": "invert", "params": {"scale": 0.5, "enabled": "false"}},
            {"id": "b", "task": "fail_on_13"},
            {
                "id": "c",
                "task": "invert",
                "inputs": {"image": "$inputs.other"},
                "params": {"model_path": "w.pt"},
            },
            {"id": "d", "task": "mean_classifier"},
        ],
    },
]
TASK_NAMES = REG.names()
IDS = ["inv", "train", "cls", "a", "b", "c", "d"]
PORTS = ["image", "model", "metrics", "classification"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(TASK_NAMES + IDS + PORTS),
    st.sampled_from(
        ["1", "true", "none", "half", "full", "image", "$inputs.image", "$inputs.", "$steps..", "$steps.a"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3)
    ),
    max_leaves=6,
)
refs = st.one_of(
    st.builds(
        lambda i, p: f"$steps.{i}.{p}",
        st.sampled_from(IDS) | st.text(max_size=5),
        st.sampled_from(PORTS) | st.text(max_size=5),
    ),
    st.builds(lambda n: f"$inputs.{n}", st.sampled_from(["image", "other", "imag"]) | st.text(max_size=5)),
    st.text(max_size=10),
)


def paths(node, prefix=()):
    """Every path (tuple of keys/indexes) into a nested dict/list document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, prefix + (i,))


def parent_and_key(doc, path):
    node = doc
    for key in path[:-1]:
        node = node[key]
    return node, path[-1]


@st.composite
def mutated_documents(draw):
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        candidates = [p for p in paths(doc) if p]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent, key = parent_and_key(doc, path)
        action = draw(st.sampled_from(["drop", "rename", "replace", "task", "ref", "cycle", "swap"]))
        if action == "drop":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[
                draw(
                    st.text(max_size=8)
                    | st.sampled_from(["task", "tasks", "param", "input", "ids", "version"])
                )
            ] = parent.pop(key)
        elif action == "replace":
            parent[key] = draw(values)
        elif action == "task" and isinstance(doc.get("tasks"), list) and doc["tasks"]:
            task = draw(st.sampled_from(doc["tasks"]))
            if isinstance(task, dict):
                task["task"] = draw(
                    st.sampled_from(TASK_NAMES)
                    | st.text(max_size=10)
                    | st.sampled_from(["invertt", "Invert"])
                )
        elif action == "ref" and isinstance(doc.get("tasks"), list) and doc["tasks"]:
            task = draw(st.sampled_from(doc["tasks"]))
            if isinstance(task, dict):
                inputs = task["inputs"] if isinstance(task.get("inputs"), dict) else {}
                inputs[draw(st.sampled_from(PORTS) | st.text(max_size=5))] = draw(refs)
                task["inputs"] = inputs
                if draw(st.booleans()) and isinstance(doc.get("outputs"), dict):
                    doc["outputs"][draw(st.text(max_size=5))] = draw(refs)
        elif action == "cycle" and isinstance(doc.get("tasks"), list) and len(doc["tasks"]) >= 2:
            first, second = draw(st.permutations(range(len(doc["tasks"]))))[:2]
            for dst, src in ((first, second), (second, first)):
                if isinstance(doc["tasks"][dst], dict) and isinstance(doc["tasks"][src], dict):
                    doc["tasks"][dst]["inputs"] = {"image": f"$steps.{doc['tasks'][src].get('id')}.image"}
        elif action == "swap" and isinstance(parent, list) and len(parent) >= 2:
            parent.reverse()
    return doc


def to_text(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def check(text: str) -> None:
    """Loading succeeds (and round-trips) or raises a located, one-line PipelineError; nothing else
    escapes."""
    try:
        wf = loads_workflow(text, REG, source=SOURCE, graph_cls=Workflow)
    except PipelineError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert LOCATED.match(message), message
        first = exc.problems[0]
        assert first.field and one_line(first.field) in message, message  # newlines show as \\n
        if first.task_id:
            assert one_line(f"task '{first.task_id}'") in message
        return
    assert isinstance(wf, Workflow)
    wf.validate()
    again = loads_workflow(dump_workflow(wf), REG)
    assert [(t.id, t.name, t.get_parameters()) for t in again.tasks] == [
        (t.id, t.name, t.get_parameters()) for t in wf.tasks
    ]
    assert set(again.edges) == set(wf.edges) and again.outputs == wf.outputs and again.inputs == wf.inputs


@SETTINGS
@given(mutated_documents())
def test_structural_mutations_load_or_raise_pipeline_error(doc):
    check(to_text(doc))


@settings(SETTINGS, max_examples=500)
@given(st.sampled_from(BASES).map(to_text), st.integers(0, 2000), st.integers(0, 30), st.text(max_size=6))
@example(to_text(BASES[0]), 10, 0, "\t")
@example(to_text(BASES[0]), 0, 0, "!!python/object:os.system ")
def test_text_mutations_load_or_raise_pipeline_error(text, at, cut, insert):
    at = at % (len(text) + 1)
    check(text[:at] + insert + text[at + cut :])


@settings(SETTINGS, max_examples=300)
@given(
    st.one_of(
        values.map(to_text),
        st.sampled_from(
            [
                "",
                "\n",
                "~",
                "---\n...\n",
                "a: 1\n---\nb: 2\n",
                "[1, 2]",
                "42",
                "!!binary aGk=",
                "&a [*a]",
                "version: 1\ntasks: &t [*t]\n",
                "version: 1\ntasks: []\n<<: {x: 1}\n",
                "\ufeffversion: 1\ntasks: []\n",
                "version: 1\ntasks:\n- {id: a, task: make_model, params: {1: 2}}\n",
            ]
        ),
    )
)
@example("? '0\n\n  '\n: null\n")  # a key holding a newline: the message shows it escaped
def test_odd_documents_load_or_raise_pipeline_error(text):
    check(text)


def test_the_bases_are_valid():
    for base in BASES:
        assert loads_workflow(to_text(base), REG).tasks

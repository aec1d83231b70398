from __future__ import annotations

import pytest

from tests.workflow.tasks_for_tests import Invert, InvertParams
from workflow import ParamError
from workflow.core.params import accepted_keys, describe_params


def test_get_parameters_gives_strings_as_ikomia_and_params_the_native_values():
    task = Invert()
    assert task.get_parameters() == {
        "amount": "255",
        "scale": "1.0",
        "enabled": "True",
        "mode": "full",
        "note": "",
        "weight_file": "",
    }
    assert task.params.model_dump() == {
        "amount": 255,
        "scale": 1.0,
        "enabled": True,
        "mode": "full",
        "note": None,
        "weight_file": None,
    }


@pytest.mark.parametrize(
    "key, text, expected",
    [
        ("amount", "12", 12),
        ("scale", "0.5", 0.5),
        ("enabled", "false", False),
        ("enabled", "True", True),
        ("enabled", "0", False),
        ("mode", "half", "half"),
        ("note", "hello", "hello"),
        ("note", "none", None),
        ("note", "", None),
        ("note", " ", " "),  # a text field keeps its spaces
    ],
)
def test_strings_are_coerced_for_every_type(key, text, expected):
    task = Invert()
    task.set_parameters({key: text})
    assert getattr(task.params, key) == expected
    assert type(getattr(task.params, key)) is type(expected)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"amount": 7, "scale": 1e-4, "enabled": False, "note": "n", "weight_file": "w.pt"},
        {"scale": 2.5e-9},
    ],
)
def test_get_parameters_round_trips_through_set_parameters(values):
    task = Invert(values)
    params = task.get_parameters()
    assert all(isinstance(v, str) for v in params.values())
    before = task.params
    task.set_parameters(params)
    assert task.get_parameters() == params
    assert task.params.model_dump() == before.model_dump()


def test_list_and_dict_parameters_travel_as_json_text():
    from pydantic import Field

    from workflow import Task, TaskParams

    class ListParams(TaskParams):
        sizes: list[int] = Field(default_factory=lambda: [1, 2])
        names: dict[str, float] | None = None

    class Lists(Task):
        name = "lists"
        Params = ListParams

    task = Lists({"names": {"a": 0.5}})
    params = task.get_parameters()
    assert params == {"sizes": "[1, 2]", "names": '{"a": 0.5}'}
    task.set_parameters({"sizes": "[3]", "names": ""})
    assert task.params.sizes == [3] and task.params.names is None
    task.set_parameters(params)
    assert task.params.sizes == [1, 2] and task.params.names == {"a": 0.5}
    with pytest.raises(ParamError, match=r"task 'lists': parameter 'sizes' got '\[x\]', expected list"):
        task.set_parameters({"sizes": "[x]"})


def test_set_parameters_merges_a_partial_dict():
    task = Invert({"amount": 10})
    task.set_parameters({"mode": "half"})
    assert task.params.amount == 10 and task.params.mode == "half"


def test_unknown_key_suggests_the_closest_name():
    with pytest.raises(
        ParamError, match=r"task 'invert': unknown parameter 'amout' \(did you mean 'amount'\?\)"
    ):
        Invert().set_parameters({"amout": 3})


@pytest.mark.parametrize(
    "values, pattern",
    [
        ({"amount": "lots"}, r"parameter 'amount' got 'lots', expected int"),
        ({"amount": 300}, r"parameter 'amount' got 300, expected int \(>= 0, <= 255\)"),
        ({"scale": 0}, r"parameter 'scale' got 0, expected float \(> 0\)"),
        ({"mode": "quarter"}, r"parameter 'mode' got 'quarter', expected one of 'full', 'half'"),
        ({"enabled": "maybe"}, r"parameter 'enabled' got 'maybe', expected bool"),
    ],
)
def test_bad_values_name_task_parameter_value_and_expectation(values, pattern):
    task = Invert(task_id="inv1")
    with pytest.raises(ParamError, match=r"task 'inv1': " + pattern):
        task.set_parameters(values)
    assert task.params.amount == 255, "a failed update must leave the parameters unchanged"


def test_alias_sets_the_field_and_replaces_previous_value():
    task = Invert({"weight_file": "a.pt"})
    task.set_parameters({"model_path": "b.pt"})
    assert task.params.weight_file == "b.pt"
    assert "model_path" in accepted_keys(InvertParams)


def test_non_mapping_parameters_are_refused():
    with pytest.raises(ParamError, match="parameters must be a mapping"):
        Invert().set_parameters(["amount", 3])  # type: ignore[arg-type]


def test_describe_lists_type_default_choices_help_and_aliases():
    rows = {r["name"]: r for r in describe_params(InvertParams)}
    assert rows["mode"]["choices"] == ["full", "half"]
    assert rows["amount"]["default"] == 255 and rows["amount"]["help"] == "value subtracted from"
    assert rows["weight_file"]["aliases"] == ["weight_file", "model_path"]


def test_on_params_changed_receives_only_changed_fields():
    seen = []

    class Watching(Invert):
        def on_params_changed(self, changed):
            seen.append(changed)

    task = Watching()
    task.set_parameters({"amount": 255, "mode": "half"})
    task.set_parameters({"mode": "half"})
    assert seen == [{"mode"}]


def test_writing_back_get_parameters_keeps_defaults_as_defaults():
    """Ikomia scripts round-trip every parameter as strings: a value written back unchanged is not an explicit
    choice (a model_name left at its default must keep following a checkpoint's architecture)."""
    from .tasks_for_tests import Invert

    task = Invert()
    task.set_parameters(task.get_parameters())
    assert task.params.model_fields_set == set()
    task.set_parameters({"amount": "200"})
    task.set_parameters(task.get_parameters())
    assert task.params.model_fields_set == {"amount"} and task.params.amount == 200
    assert Invert({"amount": 255}).params.model_fields_set == set()  # the default, given explicitly

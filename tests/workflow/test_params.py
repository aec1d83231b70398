from __future__ import annotations

import pytest

from tests.workflow.tasks_for_tests import Invert, InvertParams
from workflow import ParamError
from workflow.core.params import accepted_keys, describe_params


def test_defaults_are_native_values():
    assert Invert().get_parameters() == {
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
    ],
)
def test_strings_are_coerced_for_every_type(key, text, expected):
    task = Invert()
    task.set_parameters({key: text})
    assert task.get_parameters()[key] == expected
    assert type(task.get_parameters()[key]) is type(expected)


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

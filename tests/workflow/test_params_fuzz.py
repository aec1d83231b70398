"""Property-based test: ``set_parameters`` on every registered task raises ParamError or nothing.

Covers the tasks of the installed entry points (constructing them must not load
a model), the example plugins and the engine's test tasks. Random keys (valid
names, aliases, near misses, unicode) with random values (strings as Ikomia
passes them, huge numbers, nan, containers). A failed call leaves the
parameters as they were; a successful one leaves them valid and re-settable.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workflow.tasks_for_tests import make_registry
from workflow import ParamError
from workflow.core.params import accepted_keys, describe_params
from workflow.plugins.registry import Registry, default_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def plugin_tasks() -> list[tuple[str, Registry]]:
    """(task name, registry) for every task of the installed entry points, the example plugins and the test
    tasks."""
    found = [(name, default_registry()) for name in default_registry().names()]
    examples = Registry(use_entry_points=False, plugin_path=str(EXAMPLES / "plugins"))
    found += [(name, examples) for name in examples.names()]
    tests = make_registry()
    found += [(name, tests) for name in tests.names()]
    return found


def example_blur_class(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES / "plugin_package" / "src"))
    from workflow_blur.tasks import BlurImage

    return BlurImage


def task_class(name: str, registry: Registry):
    return registry.get(name)


def strings_for(rows) -> st.SearchStrategy[str]:
    words = [
        "",
        "none",
        "None",
        "true",
        "false",
        "yes",
        "0",
        "1",
        "-1",
        "224",
        "3.5",
        "1e309",
        "nan",
        "inf",
        "-inf",
        "cpu",
        "cuda",
        "auto",
        "fp32",
        "bf16",
        "resnext50",
        "resnext101",
        "x" * 300,
        "../../etc/passwd",
    ]
    words += [str(c) for row in rows for c in (row["choices"] or [])] + [str(row["default"]) for row in rows]
    return st.sampled_from(words) | st.text(max_size=10)


def values_for(rows) -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        strings_for(rows),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
        max_leaves=4,
    )


def keys_for(model) -> st.SearchStrategy:
    keys = accepted_keys(model)
    near = [k[:-1] for k in keys if len(k) > 1] + [k.upper() for k in keys] + [k + "s" for k in keys]
    return (
        st.sampled_from(keys or ["none"])
        | st.sampled_from(near or ["x"])
        | st.text(max_size=8)
        | st.integers(0, 3)
    )


def fuzz_set_parameters(cls) -> None:
    task = cls(task_id="fuzzed")
    rows = describe_params(cls.Params)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(keys_for(cls.Params), values_for(rows), max_size=4))
    def check(values):
        before = task.get_parameters()
        try:
            task.set_parameters(values)
        except ParamError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith("task 'fuzzed': "), message
            named = [str(k) for k in values] + list(cls.Params.model_fields)
            assert any(repr(str(k)) in message or f"'{k}'" in message for k in named), message
            assert same(task.get_parameters(), before), "a failed set_parameters changed the parameters"
            return
        after = task.get_parameters()
        cls.Params.model_validate(after)
        task.set_parameters(after)
        assert same(task.get_parameters(), after)

    check()


def same(a: dict, b: dict) -> bool:
    """Equality where nan equals nan (a nan parameter is a legal, if odd, float)."""
    return a.keys() == b.keys() and all(
        x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        for x, y in ((a[k], b[k]) for k in a)
    )


@pytest.mark.parametrize("name, registry", plugin_tasks(), ids=lambda v: v if isinstance(v, str) else "")
def test_set_parameters_raises_only_param_error(name, registry):
    fuzz_set_parameters(task_class(name, registry))


def test_set_parameters_of_the_example_package_task(monkeypatch):
    fuzz_set_parameters(example_blur_class(monkeypatch))


def test_the_fuzzer_reaches_both_outcomes():
    """Guard against a strategy that only ever produces errors (or only valid values)."""
    cls = make_registry().get("invert")
    task = cls(task_id="t")
    task.set_parameters({"amount": "12", "mode": "half", "note": "none"})
    assert task.params.amount == 12 and task.params.note is None
    assert task.get_parameters()["amount"] == "12" and task.get_parameters()["note"] == ""
    with pytest.raises(ParamError, match=r"task 't': unknown parameter 'amout' \(did you mean 'amount'\?\)"):
        task.set_parameters({"amout": 3})
    assert difflib.get_close_matches("amout", accepted_keys(cls.Params))

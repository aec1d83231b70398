"""Class 1: values built from untrusted input are bounded before anything expands them.

YAML aliases and pickled shared lists describe huge values in a few hundred bytes; an
error message or a loop over them must not expand them (hang, > 1 GB).
"""

from __future__ import annotations

import pytest

from tests.hostile.helpers import (
    CHECKPOINT,
    assert_bounded,
    checkpoint_payload,
    child_env,
    pipeline,
    run_bounded,
    run_python,
    workflow_cmd,
)


def _laughs(levels: int = 9) -> str:
    """A flow-style YAML list of nested aliases: 9**levels leaves in a few hundred bytes."""
    parts = [
        '&a0 ["lollollol", "lollollol", "lollollol", "lollollol", '
        '"lollollol", "lollollol", "lollollol", "lollollol", "lol"]'
    ]
    for i in range(1, levels):
        parts.append(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "[" + ", ".join(parts) + "]"


@pytest.mark.parametrize("param", ["top_k", "model_name", "class_file", "mystery"])
def test_yaml_alias_bomb_in_a_parameter_is_refused_quickly(tmp_path, param):
    file = pipeline(tmp_path / "bomb.yaml", "infer_torchvision_resnext", params=f"{{{param}: {_laughs()}}}")
    assert file.stat().st_size < 1000
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env())
    assert_bounded(res)
    assert res.rc == 1, str(res)
    assert param in res.err and len(res.err) < 4000, str(res)


def test_alias_bomb_anywhere_in_the_file_is_refused(tmp_path):
    file = tmp_path / "bomb.yaml"
    file.write_text(
        f"version: 1\nname: x\nextra: {_laughs()}\ninputs: {{image: {{type: image}}}}\ntasks: []\n"
    )
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env())
    assert_bounded(res)
    assert res.rc == 1 and len(res.err) < 4000, str(res)


def test_workflow_load_of_an_alias_bomb_is_bounded(tmp_path):
    file = pipeline(tmp_path / "bomb.yaml", "infer_torchvision_resnext", params=f"{{top_k: {_laughs()}}}")
    res = run_python(
        f"from workflow import Workflow\ntry:\n    Workflow.load({str(file)!r})\nexcept Exception as e:\n"
        f"    print(type(e).__name__, len(str(e)))\n"
    )
    assert_bounded(res)
    name, length = res.out.split()
    assert name.endswith("Error") and int(length) < 4000, str(res)


def test_a_huge_string_value_is_shown_as_a_short_excerpt(tmp_path):
    file = pipeline(
        tmp_path / "long.yaml", "infer_torchvision_resnext", params="{top_k: '" + "9x" * 500_000 + "'}"
    )
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env())
    assert_bounded(res)
    assert res.rc == 1 and "top_k" in res.err and len(res.err) < 4000, str(res)


def _shared_nest(depth: int = 40):
    value = ["x"]
    for _ in range(depth):
        value = [value, value]  # 2**depth leaves, a few bytes each in a pickle (memoised)
    return value


@pytest.mark.parametrize(
    "field", ["class_names", "arch", "preprocessing", "metrics", "created_by", "format_version"]
)
def test_checkpoint_manifest_with_shared_nested_lists_is_refused_quickly(tmp_path, field):
    import torch

    path = tmp_path / "nest.pt"
    nest = _shared_nest()
    value = (
        {"crop_size": nest, "resize_size": 36, "mean": nest, "std": nest}
        if field == "preprocessing"
        else nest
    )
    value = {"history": nest} if field == "metrics" else value
    torch.save(checkpoint_payload({field: value}), path)
    assert path.stat().st_size < 20_000
    res = run_python(
        "from infer_torchvision_resnext.checkpoint.format import load_checkpoint, CheckpointError\n"
        f"try:\n    ck = load_checkpoint({str(path)!r})\n    print('LOADED', repr(ck.manifest)[:200])\n"
        "except CheckpointError as e:\n    print('REFUSED', len(str(e)), str(e)[:300])\n",
        preload=CHECKPOINT,
    )
    assert_bounded(res)
    if field == "metrics":  # metrics are free-form, but must stay small: refused or loaded, never expanded
        assert res.out.startswith(("REFUSED", "LOADED")), str(res)
        return
    assert res.out.startswith("REFUSED"), str(res)
    _, length, message = res.out.split(" ", 2)
    assert int(length) < 2000 and str(path) in message, str(res)

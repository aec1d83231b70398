"""Class 15: names used as paths (pipeline ``name:``, task ids, input names) must be one safe path
component."""

from __future__ import annotations

import pytest

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd

BAD_NAMES = [
    "../../escape",
    "/tmp/hostile-abs",
    "a/b",
    "..",
    ".",
    "'a\\\\b'",
    "'x\\0y'",
    "'" + "n" * 300 + "'",
    "'~'",
    "'-rf'",
    "'line\\nbreak'",
    "''",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_pipeline_name_is_refused_by_validate(tmp_path, plugins, name):
    file = pipeline(tmp_path / "p.yaml", "brightness", name=name if name.startswith("'") else f"'{name}'")
    if name.startswith("'") and "\\" in name:
        file.write_text(file.read_text().replace(f"name: {name}", f'name: "{name[1:-1]}"'))
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 1 and "name" in res.err, str(res)


@pytest.mark.parametrize("name", ["../../escape", "/tmp/hostile-abs-run"])
def test_unsafe_pipeline_name_never_becomes_the_output_folder(tmp_path, plugins, name):
    import os
    import shutil

    cwd = tmp_path / "work" / "here"
    cwd.mkdir(parents=True)
    file = pipeline(tmp_path / "p.yaml", "brightness", name=f"'{name}'")
    image = tiny_png(tmp_path / "a.png")
    before = os.path.exists(name) if name.startswith("/") else False
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={image}"), cwd=cwd, env=child_env(plugins)
    )
    assert_bounded(res)
    escaped = (tmp_path / "escape").exists() or (
        not before and os.path.exists(name) if name.startswith("/") else False
    )
    if name.startswith("/") and os.path.exists(name) and not before:
        shutil.rmtree(name, ignore_errors=True)
    assert not escaped, str(res)
    assert res.rc == 1, str(res)


@pytest.mark.parametrize("task_id", ["../x", "a/b", ".."])
def test_unsafe_task_id_is_refused(tmp_path, plugins, task_id):
    file = tmp_path / "p.yaml"
    file.write_text(
        f"version: 1\nname: ok\ninputs: {{image: {{type: image}}}}\ntasks:\n"
        f"  - {{id: '{task_id}', task: brightness}}\n"
    )
    res = run_bounded(workflow_cmd("validate", str(file)), env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 1, str(res)


def test_ordinary_names_still_validate(tmp_path, plugins):
    for name in ("classify-folder", "my pipeline 2", "café_v1.2"):
        file = pipeline(tmp_path / "p.yaml", "brightness", name=f"'{name}'")
        res = run_bounded(workflow_cmd("validate", str(file)), env=child_env(plugins))
        assert res.rc == 0, str(res)

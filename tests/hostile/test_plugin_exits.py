"""Class 6: a plugin that exits, prints or hangs at import cannot take a command down or corrupt its output.

The plugin is named in a warning (an error with ``--strict``), the other tasks keep working,
and what a plugin prints never reaches the command's standard output.
"""

from __future__ import annotations

import json

import pytest

from tests.hostile.helpers import assert_bounded, child_env, run_bounded, workflow_cmd

BAD = {
    "exit0": "import sys\nsys.exit(0)\n",
    "exit3": "raise SystemExit('plugin says bye')\n",
    "exitnone": "raise SystemExit\n",
    "generator_exit": "raise GeneratorExit()\n",
    "oserror_exit": "import os\nos.sys.exit(7)\n",
}


def _folder(tmp_path, plugins, name, code):
    folder = tmp_path / "bad_plugins"
    folder.mkdir()
    (folder / f"bad_{name}.py").write_text(code)
    return f"{plugins}:{folder}", folder / f"bad_{name}.py"


@pytest.mark.parametrize("name", sorted(BAD))
def test_plugin_that_exits_at_import_is_reported_and_skipped(tmp_path, plugins, name):
    path, module = _folder(tmp_path, plugins, name, BAD[name])
    res = run_bounded(workflow_cmd("list"), env=child_env(WORKFLOW_PLUGIN_PATH=path))
    assert_bounded(res)
    assert res.rc == 0, str(res)
    assert "brightness" in res.out and "infer_torchvision_resnext" in res.out, str(res)
    assert f"bad_{name}" in res.err and "warning" in res.err, str(res)


@pytest.mark.parametrize("name", ["exit0", "exit3"])
def test_strict_makes_an_exiting_plugin_an_error(tmp_path, plugins, name):
    path, module = _folder(tmp_path, plugins, name, BAD[name])
    res = run_bounded(workflow_cmd("--strict", "list"), env=child_env(WORKFLOW_PLUGIN_PATH=path))
    assert_bounded(res)
    assert res.rc == 1 and f"bad_{name}" in res.err, str(res)


def test_plugin_that_prints_does_not_corrupt_schema_output(tmp_path, plugins):
    path, _ = _folder(
        tmp_path, plugins, "chatty", "import sys\nprint('hello from a plugin')\nsys.stdout.write('{oops')\n"
    )
    res = run_bounded(workflow_cmd("schema", "--no-params"), env=child_env(WORKFLOW_PLUGIN_PATH=path))
    assert_bounded(res)
    assert res.rc == 0, str(res)
    json.loads(res.out)  # stdout is exactly the schema


def test_entry_point_style_print_at_task_import_keeps_stdout_clean(tmp_path, plugins):
    path, _ = _folder(
        tmp_path,
        plugins,
        "chatty2",
        "from workflow import Task\nprint('noise')\nclass T(Task):\n    name = 'noisy'\n",
    )
    res = run_bounded(workflow_cmd("list"), env=child_env(WORKFLOW_PLUGIN_PATH=path))
    assert_bounded(res)
    assert "noise" not in res.out and "noisy" in res.out, str(res)


def test_plugin_whose_import_hangs_is_given_up_on(tmp_path, plugins):
    path, _ = _folder(tmp_path, plugins, "hang", "import time\nwhile True:\n    time.sleep(0.1)\n")
    res = run_bounded(
        workflow_cmd("list"), env=child_env(WORKFLOW_PLUGIN_PATH=path, WORKFLOW_PLUGIN_IMPORT_TIMEOUT="2")
    )
    assert_bounded(res)
    assert res.rc == 0 and "bad_hang" in res.err and "brightness" in res.out, str(res)


def test_keyboard_interrupt_at_plugin_import_still_interrupts(tmp_path, plugins):
    path, _ = _folder(tmp_path, plugins, "ctrlc", "raise KeyboardInterrupt\n")
    res = run_bounded(workflow_cmd("list"), env=child_env(WORKFLOW_PLUGIN_PATH=path))
    assert_bounded(res)
    assert res.rc == 130, str(res)

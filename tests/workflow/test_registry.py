"""The task registry: registration, lookups with suggestions, sources, plugin folders, laziness."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.workflow.tasks_for_tests import Invert, MakeModel, make_registry
from workflow import PluginError, Task, register_task
from workflow.plugins.registry import Registry, default_registry, reset_default_registry


def test_register_names_and_sources():
    reg = make_registry()
    assert reg.names() == ["fail_on_13", "invert", "make_model", "mean_classifier"]
    assert reg.get("invert") is Invert
    assert reg.source("invert") == "tests.workflow.tasks_for_tests.Invert"
    assert "invert" in reg and "nope" not in reg


def test_registering_the_same_class_twice_is_harmless_but_another_class_is_not():
    reg = Registry(use_entry_points=False, plugin_path="")
    reg.register(Invert)
    reg.register(Invert)

    class OtherInvert(Task):
        name = "invert"

    with pytest.raises(
        PluginError,
        match=r"task 'invert' is defined twice: by tests\.workflow\.tasks_for_tests\.Invert "
        r"and by .*OtherInvert",
    ):
        reg.register(OtherInvert)


def test_only_named_task_classes_can_be_registered():
    reg = Registry(use_entry_points=False, plugin_path="")

    class Nameless(Task):
        pass

    with pytest.raises(PluginError, match=r"is not a Task subclass with a name"):
        reg.register(Nameless)
    with pytest.raises(PluginError, match=r"is not a Task subclass with a name"):
        reg.register(dict)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(
        PluginError, match=r"unknown task 'make_modle' \(did you mean 'make_model'\?\);.* run 'workflow list'"
    ):
        make_registry().get("make_modle")
    with pytest.raises(PluginError, match=r"unknown task 'zzz';.* run 'workflow list'"):
        make_registry().get("zzz")


def test_missing_plugin_folder_warns_or_fails_in_strict_mode(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.warns(
        RuntimeWarning, match=r"plugin folder '.*nowhere' \(from WORKFLOW_PLUGIN_PATH\) does not exist"
    ):
        assert Registry(use_entry_points=False, plugin_path=str(missing)).names() == []
    with pytest.raises(PluginError, match=r"nowhere' \(from WORKFLOW_PLUGIN_PATH\) does not exist"):
        Registry(strict=True, use_entry_points=False, plugin_path=str(missing)).names()


def test_plugin_folder_reads_modules_and_packages_but_not_private_files(tmp_path):
    body = "from workflow import Task\n\nclass T(Task):\n    name = {!r}\n"
    (tmp_path / "reg_mod_a.py").write_text(body.format("from_module"))
    (tmp_path / "reg_pkg_b").mkdir()
    (tmp_path / "reg_pkg_b" / "__init__.py").write_text(body.format("from_package"))
    (tmp_path / "_reg_private.py").write_text(body.format("private"))
    (tmp_path / "notes.txt").write_text("not python")
    assert Registry(use_entry_points=False, plugin_path=str(tmp_path)).names() == [
        "from_module",
        "from_package",
    ]


def test_default_registry_is_shared_and_reset_rereads_the_environment(tmp_path, monkeypatch):
    (tmp_path / "reg_env_mod.py").write_text(
        "from workflow import Task\n\nclass T(Task):\n    name = 'from_env'\n"
    )
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(tmp_path))
    reset_default_registry()
    try:
        assert default_registry() is default_registry()
        assert "from_env" in default_registry().names()

        @register_task
        class Decorated(Task):
            name = "decorated_task"

        assert default_registry().get("decorated_task") is Decorated
    finally:
        reset_default_registry()
    monkeypatch.delenv("WORKFLOW_PLUGIN_PATH")
    assert "decorated_task" not in default_registry().names()
    reset_default_registry()


def test_listing_imports_no_entry_point_plugin_and_no_torch():
    code = (
        "import sys\nfrom workflow.plugins.registry import Registry\nreg = Registry()\nnames = reg.names()\n"
        "assert 'infer_torchvision_resnext' in names, names\n"
        "loaded = [m for m in ('torch', 'torchvision', 'cv2', 'infer_torchvision_resnext', "
        "'train_torchvision_resnext') "
        "if m in sys.modules]\nprint(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_registered_class_is_returned_without_import(monkeypatch):
    reg = Registry(use_entry_points=False, plugin_path="")
    reg.register(MakeModel, source="my source")
    assert reg.source("make_model") == "my source"
    assert reg.get("make_model") is MakeModel

"""Third-party tasks: the example plugin package (entry point), plugin folders, broken and duplicate plugins.

The example package is "installed" the way pip would make it visible: its
``src`` on sys.path plus a ``*.dist-info`` folder holding its entry points.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.workflow.tasks_for_tests import Invert, MeanClassifier
from workflow import PipelineError, PluginError, Workflow
from workflow.pipeline.build import load_workflow, loads_workflow, validate_file
from workflow.plugins.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "examples" / "plugin_package"
PLUGIN_FOLDER = ROOT / "examples" / "plugins"


def fake_install(dest: Path, name: str = "workflow_blur", entry_points: str | None = None) -> list[str]:
    """Make a package's entry points visible to importlib.metadata; returns the paths to put on sys.path."""
    import tomllib

    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    if entry_points is None:
        lines = [f"{k} = {v}" for k, v in project["entry-points"]["workflow.tasks"].items()]
        entry_points = "[workflow.tasks]\n" + "\n".join(lines) + "\n"
    info = dest / f"{name}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {project['version']}\n"
    )
    (info / "entry_points.txt").write_text(entry_points)
    return [str(dest), str(PACKAGE / "src")]


@pytest.fixture
def installed(tmp_path, monkeypatch):
    for path in fake_install(tmp_path / "site"):
        monkeypatch.syspath_prepend(path)
    monkeypatch.delenv("WORKFLOW_PLUGIN_PATH", raising=False)


def photo() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[::4, ::4])  # 128x128 RGB uint8


def test_entry_point_plugin_is_listed_lazily_with_its_source(installed):
    sys.modules.pop("workflow_blur.tasks", None)
    reg = Registry(plugin_path="")
    assert {"blur_image", "infer_torchvision_resnext"} <= set(reg.names())
    assert (
        reg.source("blur_image")
        == "entry point 'blur_image = workflow_blur.tasks:BlurImage' (package workflow-blur)"
    )
    assert "workflow_blur.tasks" not in sys.modules  # listing imported nothing
    assert reg.get("blur_image").name == "blur_image"
    assert "workflow_blur.tasks" in sys.modules


def test_plugin_tasks_run_in_a_pipeline_next_to_built_in_style_tasks(installed):
    reg = Registry(plugin_path=str(PLUGIN_FOLDER))
    reg.register(Invert)
    reg.register(MeanClassifier)
    wf = loads_workflow(
        """
version: 1
inputs: {image: {type: image}}
tasks:
  - {id: blur, task: blur_image, params: {kernel: gaussian, kernel_radius: "3"}}
  - {id: gray, task: grayscale}
  - {id: inv, task: invert}
  - {id: cls, task: mean_classifier}
outputs:
  blurred: $steps.blur.image
  gray: $steps.gray.image
  inverted: $steps.inv.image
  label: $steps.cls.classification
""",
        reg,
        graph_cls=Workflow,
    )
    image = photo()
    out = wf.run(image=image)

    def roughness(a):
        return np.abs(np.diff(a.astype(float), axis=1)).mean()

    assert out["blurred"].shape == image.shape and roughness(out["blurred"]) < 0.5 * roughness(image)
    gray = out["gray"]
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    np.testing.assert_array_equal(out["inverted"], 255 - gray)
    expected = "bright" if (255 - gray).mean() / 255 > 0.5 else "dark"
    assert out["label"].top.label == expected


def test_example_plugin_pipeline_validates_with_both_plugins(installed, monkeypatch):
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(PLUGIN_FOLDER))
    path = ROOT / "examples" / "pipelines" / "plugin_pipeline.yaml"
    assert validate_file(path, Registry()) == []
    wf = load_workflow(path, Registry())
    assert {(e.src, e.dst) for e in wf.edges} == {
        ("$inputs", "blur"),
        ("blur", "classify"),
        ("$inputs", "gray"),
    }


def test_example_plugin_pipeline_without_the_plugins_names_the_missing_task(monkeypatch):
    monkeypatch.delenv("WORKFLOW_PLUGIN_PATH", raising=False)
    path = ROOT / "examples" / "pipelines" / "plugin_pipeline.yaml"
    with pytest.raises(
        PipelineError, match=r"plugin_pipeline\.yaml:\d+: task 'blur': task: unknown task 'blur_image'"
    ):
        load_workflow(path, Registry())


def test_plugin_folder_from_the_environment(monkeypatch):
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(PLUGIN_FOLDER))
    reg = Registry(use_entry_points=False)
    assert reg.names() == ["grayscale"]
    assert reg.source("grayscale") == f"plugin folder module '{PLUGIN_FOLDER / 'grayscale_task.py'}'"


def write_plugin(folder: Path, module: str, task_name: str, body: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(f"""{body}
from workflow import Port, Task
from workflow.core.ports import Image

class T(Task):
    name = {task_name!r}
    inputs = (Port("image", Image),)
    outputs = (Port("image", Image),)

    def run(self):
        self.set_output("image", self.get_input("image").data)
""")


def test_broken_plugin_is_skipped_with_a_warning_naming_it(tmp_path):
    write_plugin(tmp_path, "plg_broken_a", "never", body="raise ImportError('needs libfoo')")
    write_plugin(tmp_path, "plg_fine_a", "fine_a")
    with pytest.warns(
        RuntimeWarning, match=r"plugin '.*plg_broken_a\.py' failed to import: ImportError: needs libfoo"
    ):
        names = Registry(use_entry_points=False, plugin_path=str(tmp_path)).names()
    assert names == ["fine_a"]


def test_broken_plugin_is_fatal_in_strict_mode(tmp_path, monkeypatch):
    write_plugin(tmp_path, "plg_broken_b", "never", body="1 / 0")
    with pytest.raises(PluginError, match=r"plugin '.*plg_broken_b\.py' failed to import: ZeroDivisionError"):
        Registry(strict=True, use_entry_points=False, plugin_path=str(tmp_path)).names()
    monkeypatch.setenv("WORKFLOW_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"plg_broken_b\.py"):
        Registry(use_entry_points=False, plugin_path=str(tmp_path)).names()


def test_broken_entry_point_fails_only_when_used_and_names_the_entry_point(tmp_path, monkeypatch):
    for path in fake_install(
        tmp_path, "broken_pkg", "[workflow.tasks]\nghost = no_such_module_xyz.tasks:Ghost\n"
    ):
        monkeypatch.syspath_prepend(path)
    reg = Registry(plugin_path="")
    assert "ghost" in reg.names()
    with pytest.raises(
        PluginError,
        match=r"task 'ghost' from entry point 'ghost = no_such_module_xyz\.tasks:Ghost' "
        r"\(package broken-pkg\) failed to import: ModuleNotFoundError",
    ):
        reg.get("ghost")
    with pytest.raises(
        PipelineError, match=r"p\.yaml:3: task 'g': task: task 'ghost' from entry point .* failed to import"
    ):
        loads_workflow("version: 1\ntasks:\n  - {id: g, task: ghost}\n", reg, source="p.yaml")


def test_duplicate_task_name_names_both_sources(installed, tmp_path):
    write_plugin(tmp_path / "folder", "plg_dup_blur", "blur_image")
    with pytest.raises(
        PluginError,
        match=r"task 'blur_image' is defined twice: by entry point 'blur_image = "
        r"workflow_blur\.tasks:BlurImage' \(package workflow-blur\) and by plugin "
        r"folder module '.*plg_dup_blur\.py'",
    ):
        Registry(plugin_path=str(tmp_path / "folder")).names()


def test_two_plugin_folders_with_one_task_name(tmp_path):
    write_plugin(tmp_path / "one", "plg_dup_one", "same_name")
    write_plugin(tmp_path / "two", "plg_dup_two", "same_name")
    path = f"{tmp_path / 'one'}{__import__('os').pathsep}{tmp_path / 'two'}"
    with pytest.raises(
        PluginError,
        match=r"task 'same_name' is defined twice: by plugin folder module '.*plg_dup_one\.py' "
        r"and by plugin folder module '.*plg_dup_two\.py'",
    ):
        Registry(use_entry_points=False, plugin_path=path).names()


def test_plugins_next_to_a_pipeline_file_are_never_imported(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKFLOW_PLUGIN_PATH", raising=False)
    marker = tmp_path / "imported"
    write_plugin(tmp_path, "plg_evil_neighbour", "evil", body=f"open({str(marker)!r}, 'w').close()")
    (tmp_path / "pipe.yaml").write_text(
        "version: 1\ninputs: {image: {type: image}}\ntasks:\n  - {id: e, task: evil}\n"
    )
    with pytest.raises(PipelineError, match=r"pipe\.yaml:4: task 'e': task: unknown task 'evil'"):
        load_workflow(tmp_path / "pipe.yaml", Registry())
    assert not marker.exists() and "plg_evil_neighbour" not in sys.modules


def test_yaml_tags_cannot_run_code(tmp_path):
    marker = tmp_path / "owned"
    text = f"version: 1\ntasks: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(
        PipelineError,
        match=r"p\.yaml:2: yaml: tag 'tag:yaml\.org,2002:python/object/apply:os\.system' "
        r"is not allowed",
    ):
        loads_workflow(text, Registry(use_entry_points=False, plugin_path=""), source="p.yaml")
    assert not marker.exists()


def test_every_example_pipeline_validates_with_the_example_plugins(installed, monkeypatch):
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", str(PLUGIN_FOLDER))
    files = sorted((ROOT / "examples" / "pipelines").glob("*.yaml"))
    assert len(files) >= 2
    digits = (
        ROOT / "demo_output" / "digits"
    )  # exported by `make demo`; validate reports it while it is missing
    for path in files:
        problems = [str(p) for p in validate_file(path, Registry())]
        if not digits.is_dir() and path.name in ("demo.yaml", "train.yaml"):
            assert (
                len(problems) == 1
                and f"task 'train': params.dataset_folder: '{digits}' does not exist" in problems[0]
            ), problems
            continue
        assert problems == [], path.name

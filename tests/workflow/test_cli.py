"""The `workflow` command: list, describe, validate, run, schema; exit codes and one-line errors.

Most cases call ``main([...])`` in-process; a few run ``python -m workflow`` to
check what a shell user sees (exit status, stderr, Ctrl-C).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflow.test_plugins import PLUGIN_FOLDER, ROOT, fake_install
from workflow.cli import main

TEST_TASKS = '''
import os, time
from workflow import Port, Task
from workflow.core.ports import Classification, Image
from workflow.core.results import ClassificationResult, ClassScore


class Brightness(Task):
    """Bright or dark, from the mean pixel value."""
    name = "brightness"
    inputs = (Port("image", Image),)
    outputs = (Port("classification", Classification),)

    def run(self):
        mean = float(self.get_input("image").data.mean()) / 255
        scores = sorted([ClassScore("bright", 1, mean), ClassScore("dark", 0, 1 - mean)], key=lambda c: -c.score)
        self.set_output("classification", ClassificationResult(scores))


class Sleepy(Task):
    """Passes images through slowly; touches $SLEEPY_MARKER when it starts."""
    name = "sleepy"
    inputs = (Port("image", Image),)
    outputs = (Port("image", Image),)

    def run(self):
        open(os.environ["SLEEPY_MARKER"], "w").close()
        time.sleep(0.5)
        self.set_output("image", self.get_input("image").data)
'''

PIPELINE = """version: 1
name: cli-test
inputs: {image: {type: image}}
tasks:
  - {id: blur, task: blur_image, params: {radius: 1}}
  - {id: gray, task: grayscale}
  - {id: light, task: brightness}
outputs:
  label: $steps.light.classification
  gray: $steps.gray.image
"""


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    """Example package installed, example plugin folder plus the test tasks on WORKFLOW_PLUGIN_PATH; returns a
    subprocess env."""
    paths = fake_install(tmp_path / "site")
    for path in paths:
        monkeypatch.syspath_prepend(path)
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "cli_test_tasks.py").write_text(TEST_TASKS)
    plugin_path = os.pathsep.join([str(PLUGIN_FOLDER), str(folder)])
    monkeypatch.setenv("WORKFLOW_PLUGIN_PATH", plugin_path)
    monkeypatch.setenv("SLEEPY_MARKER", str(tmp_path / "sleepy_started"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipe.yaml").write_text(PIPELINE)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths + [str(ROOT)])}


@pytest.fixture
def photos(tmp_path) -> Path:
    """Real photos in a folder tree, one of them too small to matter, none corrupt."""
    from skimage import data

    root = tmp_path / "photos"
    (root / "animals").mkdir(parents=True)
    Image.fromarray(data.astronaut()[::4, ::4]).save(root / "astronaut.jpg")
    Image.fromarray(data.chelsea()[::4, ::4]).save(root / "animals" / "cat.png")
    Image.fromarray(data.coffee()[::4, ::4]).save(root / "animals" / "coffee.jpg")
    return root


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_tasks_with_their_sources(env, capsys):
    code, out, err = run_cli(capsys, "list")
    assert code == 0 and err == ""
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert (
        "entry point 'blur_image = workflow_blur.tasks:BlurImage' (package workflow-blur)"
        in lines["blur_image"]
    )
    assert f"plugin folder module '{PLUGIN_FOLDER / 'grayscale_task.py'}'" in lines["grayscale"]
    assert "plugin folder module" in lines["brightness"]
    assert "infer_torchvision_resnext" in lines


def test_describe_shows_params_with_type_default_choices_help_aliases_and_ports(env, capsys):
    code, out, _ = run_cli(capsys, "describe", "blur_image")
    assert code == 0
    assert out.startswith("blur_image: Blur an image with a Gaussian, box or median filter.\n")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "one of 'gaussian', 'box', 'median'" in rows["kernel"] and "default 'gaussian'" in rows["kernel"]
    assert "int (>= 1, <= 50)" in rows["radius"] and "default 2" in rows["radius"]
    assert "filter radius in pixels" in rows["radius"] and rows["radius"].endswith("(aliases: kernel_radius)")
    assert (
        "inputs:\n  image (image): image to blur\noutputs:\n  image (image): blurred image, same size\n"
        in out
    )


def test_describe_unknown_task_is_one_line_with_a_suggestion(env, capsys):
    code, out, err = run_cli(capsys, "describe", "blur_imag")
    assert code == 1 and out == ""
    assert (
        err == "error: unknown task 'blur_imag' (did you mean 'blur_image'?); "
        "run 'workflow list' to see the registered tasks\n"
    )


def test_validate_reports_ok_and_every_problem_one_per_line(env, capsys, tmp_path):
    code, out, err = run_cli(capsys, "validate", "pipe.yaml")
    assert code == 0 and err == ""
    assert out == "ok: pipe.yaml: 3 task(s): blur -> gray -> light; outputs: label, gray\n"
    (tmp_path / "bad.yaml").write_text(
        PIPELINE.replace("blur_image", "blur_imag").replace("grayscale", "greyscale")
    )
    code, out, err = run_cli(capsys, "validate", "pipe.yaml", "bad.yaml")
    assert code == 1 and out.startswith("ok: pipe.yaml")
    assert err.splitlines() == [
        "error: bad.yaml:5: task 'blur': task: unknown task 'blur_imag' (did you mean 'blur_image'?); "
        "run 'workflow list' to see the registered tasks",
        "error: bad.yaml:6: task 'gray': task: unknown task 'greyscale' (did you mean 'grayscale'?); "
        "run 'workflow list' to see the registered tasks",
    ]


def test_validate_and_run_take_json_files_ours_and_ikomias(env, capsys, photos, tmp_path):
    import yaml

    (tmp_path / "pipe.json").write_text(json.dumps(yaml.safe_load(PIPELINE), indent=2))
    code, out, err = run_cli(capsys, "validate", "pipe.json")
    assert (code, err) == (0, "")
    assert out == "ok: pipe.json: 3 task(s): blur -> gray -> light; outputs: label, gray\n"
    names = ["blur_image", "grayscale", "brightness"]  # as IkomiaCore's CWorkflow::saveJSON writes them
    ikomia = {
        "metadata": {"name": "from_ikomia", "description": "", "keywords": ""},
        "tasks": [
            {
                "task_id": i,
                "task_data": {"name": n, "parameters": [{"name": "radius", "value": "1"}] * (i == 0)},
            }
            for i, n in enumerate(names)
        ],
        "connections": [
            {"source_id": s, "source_index": 0, "target_id": t, "target_index": 0}
            for s, t in ((-1, 0), (0, 1), (1, 2))
        ],
    }
    (tmp_path / "ik.json").write_text(json.dumps(ikomia))
    code, out, err = run_cli(capsys, "run", "ik.json", "-i", str(photos), "-o", "ik_out")
    assert code == 0, err
    assert out.startswith("done: 3 processed, 0 failed")
    assert len(list(csv.DictReader(open(tmp_path / "ik_out" / "results.csv")))) == 3
    (tmp_path / "pipe.txt").write_text(PIPELINE)
    code, out, err = run_cli(capsys, "validate", "pipe.txt")
    assert code == 1 and err == (
        "error: pipe.txt: unknown pipeline file type '.txt' (use .json for JSON, .yaml or .yml for YAML)\n"
    )


def test_validate_loads_no_model(env, capsys, tmp_path, monkeypatch):
    torch_home = tmp_path / "empty_torch_home"
    torch_home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    start = time.perf_counter()
    code, out, err = run_cli(capsys, "validate", str(ROOT / "examples/pipelines/classify_folder.yaml"))
    assert code == 0, err
    assert out.startswith("ok: ") and "1 task(s): classify" in out
    assert not list(torch_home.rglob("*"))  # no weights looked up or downloaded
    assert time.perf_counter() - start < 30


def test_run_on_a_folder_writes_one_row_per_image_and_the_images(env, capsys, photos, tmp_path):
    code, out, err = run_cli(capsys, "run", "pipe.yaml", "--input", f"image={photos}", "--output", "out")
    assert code == 0, err
    assert out.startswith("done: 3 processed, 0 failed") and "results in" in out
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert sorted(r["path"] for r in rows) == ["animals/cat.png", "animals/coffee.jpg", "astronaut.jpg"]
    for row in rows:  # brightness of the blurred gray image: its luma mean (blurring keeps the mean, nearly)
        luma = (
            np.asarray(Image.open(photos / row["path"]).convert("RGB")) @ [0.299, 0.587, 0.114]
        ).mean() / 255
        assert row["label"] == ("bright" if luma > 0.5 else "dark")
        assert float(row["score"]) == pytest.approx(max(luma, 1 - luma), abs=0.01)
    gray = np.asarray(
        Image.open(tmp_path / "out" / "animals" / "cat.png")
    )  # one image output: no sub-folder per output
    assert gray.shape[:2] == (75, 113) and (gray[..., 0] == gray[..., 2]).all()


def test_run_lists_bad_files_and_exits_3(env, capsys, photos):
    (photos / "animals" / "broken.jpg").write_text("this is not a jpeg")
    code, out, err = run_cli(capsys, "run", "pipe.yaml", "-i", str(photos), "-o", "out", "--no-images")
    assert code == 3
    assert out.startswith("done: 3 processed, 1 failed")
    lines = err.splitlines()
    assert lines[0].startswith("warning: path animals/broken.jpg: ") and len(lines) == 2
    assert lines[1].startswith("error: 1 item(s) failed (listed in ") and lines[1].endswith("report.json)")
    assert not list(Path("out").rglob("*.png"))  # --no-images


def test_run_resume_skips_done_items(env, capsys, photos):
    assert run_cli(capsys, "run", "pipe.yaml", "-i", f"image={photos}", "-o", "out")[0] == 0
    code, out, _ = run_cli(capsys, "run", "pipe.yaml", "-i", f"image={photos}", "-o", "out", "--resume")
    assert code == 0 and out.startswith("done: 0 processed, 0 failed, 3 already done")


@pytest.mark.parametrize(
    "args, message",
    [
        ((), r"error: workflow 'cli-test' needs input 'image' \(image\): give it as --input image=PATH"),
        (("-i", "a.jpg", "-i", "image=b.jpg"), r"error: --input: 'image' is given twice"),
        (("-i", "nothere.jpg"), r"error: nothere\.jpg: no such file or folder \(input 'image'\)"),
    ],
)
def test_run_input_errors_are_one_line(env, capsys, args, message):
    code, out, err = run_cli(capsys, "run", "pipe.yaml", *args)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and __import__("re").match(message, err)


def test_unexpected_errors_are_one_line_too(env, capsys, photos, tmp_path):
    (tmp_path / "taken").write_text("a file where the output folder should go")
    code, _, err = run_cli(capsys, "run", "pipe.yaml", "-i", str(photos / "astronaut.jpg"), "-o", "taken")
    assert code == 1 and len(err.splitlines()) == 1 and err.startswith("error: ")


def test_schema_is_json_with_plugin_params(env, capsys):
    code, out, _ = run_cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert "blur_image" in schema["$defs"]["TaskSpec"]["properties"]["task"]["enum"]
    assert schema["$defs"]["params__blur_image"]["properties"]["radius"]["maximum"] == 50


def test_broken_plugin_warns_once_and_is_fatal_with_strict(env, capsys, tmp_path, monkeypatch):
    broken = tmp_path / "broken_plugins"
    broken.mkdir()
    (broken / "cli_broken_plugin.py").write_text("import not_installed_anywhere\n")
    monkeypatch.setenv(
        "WORKFLOW_PLUGIN_PATH", os.pathsep.join([os.environ["WORKFLOW_PLUGIN_PATH"], str(broken)])
    )
    code, out, err = run_cli(capsys, "list")
    assert code == 0 and "blur_image" in out
    assert err.splitlines() == [
        f"warning: plugin '{broken / 'cli_broken_plugin.py'}' failed to import: "
        "ModuleNotFoundError: No module named 'not_installed_anywhere'"
    ]
    for args in (["--strict", "list"], ["list", "--strict"]):
        code, out, err = run_cli(capsys, *args)
        assert code == 1 and out == ""
        assert err == (
            f"error: plugin '{broken / 'cli_broken_plugin.py'}' failed to import: "
            "ModuleNotFoundError: No module named 'not_installed_anywhere'\n"
        )


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_python_m_workflow_validate_exit_code_and_single_line(env, tmp_path):
    (tmp_path / "bad.yaml").write_text("version: 1\ntasks:\n  - id: a\n   task: b\n")
    out = subprocess.run(
        [sys.executable, "-m", "workflow", "validate", "bad.yaml"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1 and out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: bad.yaml:4: yaml: syntax error: expected <block end>"
    ), lines


def test_ctrl_c_stops_a_run_with_exit_130_and_one_line(env, tmp_path, photos):
    (tmp_path / "slow.yaml").write_text(
        "version: 1\ninputs: {image: {type: image}}\ntasks:\n  - {id: s, task: sleepy}\n"
    )
    for i in range(12):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(photos / f"extra_{i:02d}.png")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workflow", "run", "slow.yaml", "-i", str(photos), "-o", "out"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    marker = Path(env["SLEEPY_MARKER"])
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(err.splitlines()) == 1 and err.startswith("error: interrupted"), err
    assert (tmp_path / "out" / "results.csv").exists()  # partial results flushed


def test_torchrun_runs_the_same_command_on_two_ranks(env, tmp_path, photos):
    (tmp_path / "gray.yaml").write_text(
        "version: 1\ninputs: {image: {type: image}}\ntasks:\n  - {id: g, task: grayscale}\n"
    )
    for i in range(5):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(photos / f"flat_{i}.png")
    with socket.socket() as sock:  # a free port: other torchrun jobs may hold the default 29500
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(port),
        "-m",
        "workflow",
        "run",
        "gray.yaml",
        "-i",
        str(photos),
        "-o",
        "out",
        "--no-images",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert [line for line in out.stdout.splitlines() if line.startswith("done:")] == [
        out.stdout.splitlines()[0]
    ]
    assert out.stdout.startswith("done: 8 processed, 0 failed")  # printed once, by rank 0, for both ranks
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert len(rows) == 8 and len({r["path"] for r in rows}) == 8


def test_verbose_adds_the_traceback_before_the_error_line(env, capsys):
    code, _, err = run_cli(capsys, "-v", "describe", "blur_imag")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: unknown task 'blur_imag'")

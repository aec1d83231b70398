"""run_on / run_inputs: single images, folders (errors, resume, faults, Ctrl-C), videos, output paths."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflow.tasks_for_tests import MakeModel, MeanClassifier, make_registry
from workflow import InputError, Port, Task, TaskRunError, Workflow, WorkflowError
from workflow.core import ports
from workflow.core.files import output_path, safe_relpath
from workflow.run.runner import RunReport, run_inputs, run_on, run_once
from workflow.run.sources import VideoWriter, iter_video_frames

REPO = Path(__file__).resolve().parents[2]


class ShapeProbe(Task):
    """Records the image shapes and batch sizes it sees; may ask for reduced-scale decoding."""

    name = "shape_probe"
    inputs = (Port("image", ports.Image),)
    outputs = (Port("classification", ports.Classification),)
    hint: int | None = None
    batch: int | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shapes, self.batches = [], []

    def decode_hint(self, port):
        return self.hint

    def batch_hint(self):
        return self.batch

    def run_batch(self, items):
        self.batches.append(len(items))
        return super().run_batch(items)

    def run(self):
        img = self.get_input("image").data
        self.shapes.append(img.shape)
        from workflow.core.results import ClassificationResult, ClassScore

        self.set_output("classification", ClassificationResult([ClassScore(f"h{img.shape[0]}", 0, 1.0)]))


@pytest.fixture
def wf() -> Workflow:
    """mean_classifier (CSV columns) + invert (an annotated image to save)."""
    wf = Workflow(registry=make_registry())
    wf.add_task(name="mean_classifier", auto_connect=True)
    wf.add_task(name="invert", auto_connect=True)
    return wf


def write_images(folder: Path, values: dict[str, int], size=(12, 16)) -> None:
    for rel, value in values.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fp:
        return list(csv.DictReader(fp))


# -- folders ----------------------------------------------------------------------------
def test_folder_run_reports_a_corrupt_image_and_processes_the_rest(tmp_path, wf):
    src = tmp_path / "photos"
    write_images(src, {"a.png": 10, "sub/b.png": 240, "sub/deeper/c.jpg": 200})
    (src / "sub" / "broken.jpg").write_text("not an image")
    report = run_on(wf, folder=src, output_dir=tmp_path / "out", batch_size=2)
    assert (report.processed, report.failed, report.interrupted) == (3, 1, False)
    assert report.errors == [
        {"path": "sub/broken.jpg", "reason": "not an image (unknown or unsupported format)"}
    ]
    rows = read_csv(report.results_csv)
    assert [r["path"] for r in rows] == ["a.png", "sub/b.png", "sub/deeper/c.jpg"]
    assert list(rows[0]) == ["path", "label", "score", "top_k"]
    assert [r["label"] for r in rows] == ["dark", "bright", "bright"]
    assert rows[1]["top_k"] == "bright:0.9412;dark:0.0588" and float(rows[1]["score"]) == pytest.approx(
        240 / 255
    )
    saved = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*g"))
    assert saved == ["a.png", "sub/b.png", "sub/deeper/c.jpg"]
    assert np.asarray(Image.open(tmp_path / "out" / "sub" / "b.png")).max() == 15  # inverted 240
    records = json.loads(report.results_json.read_text())
    assert [r["path"] for r in records] == ["a.png", "sub/b.png", "sub/deeper/c.jpg"]
    assert records[0]["outputs"]["mean_classifier.classification"]["classes"][0]["label"] == "dark"
    assert records[0]["outputs"]["invert.image"] == {"shape": [12, 16, 3], "file": "a.png"}
    summary = json.loads(report.report_json.read_text())
    assert (summary["processed"], summary["failed"], summary["errors"][0]["path"]) == (3, 1, "sub/broken.jpg")
    assert set(summary["times_s"]) == {"mean_classifier", "invert", "total"}


def test_task_errors_are_reported_per_image(tmp_path):
    wf = Workflow(registry=make_registry())
    wf.add_task(name="fail_on_13", auto_connect=True)
    write_images(tmp_path / "in", {"a.png": 1, "b.png": 13, "c.png": 2})
    report = run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out", batch_size=3)
    assert report.processed == 2
    assert report.errors == [
        {"path": "b.png", "reason": "task 'fail_on_13' failed: ValueError: pixel 13 is unlucky"}
    ]


def test_static_tasks_run_once_per_run_over_many_batches(tmp_path):
    MakeModel.runs = 0
    wf = Workflow(registry=make_registry())
    wf.add_task(name="make_model", auto_connect=True)
    wf.add_task(name="mean_classifier", auto_connect=True)
    write_images(tmp_path / "in", {f"{i}.png": i * 20 for i in range(7)})
    report = run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out", batch_size=2)
    assert report.processed == 7 and MakeModel.runs == 1
    run_on(wf, folder=tmp_path / "in", batch_size=3)
    assert MakeModel.runs == 2  # once per run_on call


def test_folder_without_output_dir_returns_rows(tmp_path, wf):
    write_images(tmp_path / "in", {"x.png": 0, "y.png": 255})
    report = run_on(wf, folder=tmp_path / "in")
    assert [(r["path"], r["label"]) for r in report.rows] == [("x.png", "dark"), ("y.png", "bright")]
    assert report.results_csv is None and not list(tmp_path.glob("**/results.csv"))


def test_two_non_image_outputs_get_prefixed_columns(tmp_path):
    wf = Workflow(registry=make_registry())
    first = wf.add_task(name="mean_classifier", auto_connect=True)
    second = wf.add_task(name="mean_classifier", auto_connect=True)
    wf.add_output("a", first, "classification")
    wf.add_output("b", second, "classification")
    write_images(tmp_path / "in", {"x.png": 0})
    report = run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out")
    assert list(read_csv(report.results_csv)[0]) == [
        "path",
        "a.label",
        "a.score",
        "a.top_k",
        "b.label",
        "b.score",
        "b.top_k",
    ]


def test_output_folder_must_not_be_the_input_folder_and_is_not_read_back(tmp_path, wf):
    write_images(tmp_path / "in", {"a.png": 5})
    with pytest.raises(InputError, match="the output folder must differ from the input folder"):
        run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "in")
    run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "in" / "results")
    again = run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "in" / "results")
    assert [r["path"] for r in read_csv(again.results_csv)] == ["a.png"]


# -- single inputs and freshness ------------------------------------------------------------
def test_run_on_twice_with_different_inputs_gives_fresh_outputs(tmp_path, wf):
    write_images(tmp_path, {"dark.png": 10, "bright.png": 250})
    first = run_on(wf, path=tmp_path / "dark.png")
    assert first.outputs["mean_classifier.classification"].top.label == "dark"
    second = run_on(wf, path=tmp_path / "bright.png")
    assert second.outputs["mean_classifier.classification"].top.label == "bright"
    assert wf.get_task("mean_classifier").get_output("classification").data.top.label == "bright"
    assert (wf.get_task("invert").get_output("image").data == 5).all()
    third = run_on(wf, array=np.full((3, 3, 3), 0, np.uint8))
    assert third.outputs["mean_classifier.classification"].top.label == "dark"
    assert (wf.get_task("invert").get_output("image").data == 255).all()


def test_failed_run_leaves_no_stale_output(tmp_path):
    wf = Workflow(registry=make_registry())
    task = wf.add_task(name="fail_on_13", auto_connect=True)
    run_on(wf, array=np.full((2, 2, 3), 1, np.uint8))
    with pytest.raises(TaskRunError, match="task 'fail_on_13' failed"):
        run_on(wf, array=np.full((2, 2, 3), 13, np.uint8))
    assert task.get_output("image").data is None


def test_single_image_with_output_dir_writes_results(tmp_path, wf):
    write_images(tmp_path, {"in.png": 200})
    report = run_on(wf, path=tmp_path / "in.png", output_dir=tmp_path / "out")
    assert read_csv(report.results_csv) == [
        {"path": "in.png", "label": "bright", "score": str(200 / 255), "top_k": "bright:0.7843;dark:0.2157"}
    ]
    assert (tmp_path / "out" / "in.png").is_file() and report.report_json.is_file()


def test_single_image_errors_raise_one_line_naming_the_file(tmp_path, wf):
    (tmp_path / "bad.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"bad\.jpg: empty file \(0 bytes\)$"):
        run_on(wf, path=tmp_path / "bad.jpg")


def test_run_on_needs_exactly_one_source_and_a_known_input(tmp_path, wf):
    with pytest.raises(
        InputError, match=r"exactly one of path=, array=, folder=, video=, url= \(got path, folder\)"
    ):
        run_on(wf, path="a.png", folder="b")
    with pytest.raises(InputError, match=r"has no input 'imag' \(did you mean 'image'\?\)"):
        run_on(wf, array=np.zeros((2, 2, 3), np.uint8), input="imag")


# -- decoding hints and batching ---------------------------------------------------------------
def _probe_on_a_big_jpeg(tmp_path: Path, hint: int) -> tuple[Workflow, ShapeProbe]:
    """A folder ``tmp_path/in`` holding one 800x1200 JPEG, and a workflow whose probe asks for ``hint``."""
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (800, 1200, 3), dtype=np.uint8))
    (tmp_path / "in").mkdir()
    big.save(tmp_path / "in" / "big.jpg")
    wf = Workflow(registry=make_registry())
    probe = wf.add_task(ShapeProbe(), auto_connect=True)
    probe.hint = hint
    return wf, probe


def test_ports_carry_full_size_images_whatever_the_tasks_decode_hints(tmp_path):
    """A task's decode hint (the side its model needs) never shrinks what its ports carry (issue 18)."""
    wf, probe = _probe_on_a_big_jpeg(tmp_path, 100)
    run_on(wf, folder=tmp_path / "in")
    run_on(wf, path=tmp_path / "in" / "big.jpg")
    assert probe.shapes == [(800, 1200, 3)] * 2
    assert probe.get_input("image").get_image().shape == (800, 1200, 3)


def test_a_folder_run_that_saves_no_image_decodes_at_the_models_scale(tmp_path):
    """Nobody sees the ports of a folder run's items when no image is saved: big JPEGs are decoded at
    reduced scale down to what the tasks ask (libjpeg's DCT scaling: ~2x faster); single images stay full."""
    wf, probe = _probe_on_a_big_jpeg(tmp_path, 100)
    run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out", save_images=False)
    run_on(wf, path=tmp_path / "in" / "big.jpg", save_images=False)
    assert probe.shapes == [(100, 150, 3), (800, 1200, 3)]  # 1/8 scale keeps the short side >= 100


def test_default_batch_size_comes_from_batch_hints(tmp_path):
    write_images(tmp_path / "in", {f"{i:02d}.png": i for i in range(12)})
    wf = Workflow(registry=make_registry())
    probe = wf.add_task(ShapeProbe(), auto_connect=True)
    probe.batch = 5
    run_on(wf, folder=tmp_path / "in")
    assert probe.batches == [5, 5, 2]
    probe.batch, probe.batches = None, []
    run_on(wf, folder=tmp_path / "in")
    assert probe.batches == [8, 4]


# -- resume and faults -----------------------------------------------------------------------------
def test_resume_after_a_partial_run_gives_one_row_per_image(tmp_path, wf):
    src, out = tmp_path / "in", tmp_path / "out"
    write_images(src, {f"d{i % 3}/{i:02d}.png": i * 9 for i in range(9)})
    run_on(wf, folder=src, output_dir=out, batch_size=2)
    csv_lines = (out / "results.csv").read_text().splitlines(keepends=True)
    json_lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(csv_lines[:5]) + csv_lines[5][:9])  # 4 rows + a half-written one
    (out / "results.jsonl").write_text("".join(json_lines[:3]))  # the 4th row's record never made it
    report = run_on(wf, folder=src, output_dir=out, batch_size=2, resume=True)
    assert (report.skipped, report.processed) == (3, 6)
    paths = [r["path"] for r in read_csv(out / "results.csv")]
    assert (
        sorted(paths) == sorted(p.relative_to(src).as_posix() for p in src.rglob("*.png")) and len(paths) == 9
    )
    assert len(json.loads((out / "results.json").read_text())) == 9
    again = run_on(wf, folder=src, output_dir=out, resume=True)
    assert (again.skipped, again.processed, len(read_csv(out / "results.csv"))) == (9, 0, 9)


SCRIPT = """
import sys, time
from tests.workflow.tasks_for_tests import MeanClassifier, make_registry
from workflow import Workflow
from workflow.run.runner import run_inputs

class SlowMean(MeanClassifier):
    name = "slow_mean"
    def run(self):
        time.sleep(0.025)
        super().run()

wf = Workflow(registry=make_registry())
wf.add_task(SlowMean(), auto_connect=True)
wf.add_task(name="invert", auto_connect=True)
try:
    report = run_inputs(wf, {"image": sys.argv[1]}, sys.argv[2], resume="--resume" in sys.argv, batch_size=2)
except KeyboardInterrupt as exc:
    print(f"error: interrupted: {exc}", file=sys.stderr)
    sys.exit(130)
print(report.summary())
"""


def start_slow_run(tmp_path: Path, src: Path, out: Path, *extra: str) -> subprocess.Popen:
    script = tmp_path / "slow_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKFLOW_PROGRESS": "0"}
    return subprocess.Popen(
        [sys.executable, str(script), str(src), str(out), *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(csv_path: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if csv_path.is_file() and csv_path.read_text().count("\n") > n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{csv_path} never got {n} rows")


@pytest.fixture
def many_images(tmp_path) -> Path:
    src = tmp_path / "in"
    write_images(src, {f"s{i % 4}/{i:03d}.png": (i * 7) % 256 for i in range(64)}, size=(8, 8))
    return src


def test_a_killed_folder_run_resumes_to_exactly_one_row_per_image(tmp_path, wf, many_images):
    out = tmp_path / "out"
    proc = start_slow_run(tmp_path, many_images, out)
    wait_for_rows(out / "results.csv", 6, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    done_before = len(read_csv(out / "results.csv"))
    assert 6 <= done_before < 64
    report = run_on(wf, folder=many_images, output_dir=out, resume=True)
    paths = [r["path"] for r in read_csv(out / "results.csv")]
    assert len(paths) == len(set(paths)) == 64
    assert report.skipped >= 6 and report.skipped + report.processed == 64
    assert len(json.loads((out / "results.json").read_text())) == 64


def test_ctrl_c_flushes_partial_results_and_exits_non_zero(tmp_path, many_images):
    out = tmp_path / "out"
    proc = start_slow_run(tmp_path, many_images, out)
    wait_for_rows(out / "results.csv", 4, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted: interrupted: ")
    summary = json.loads((out / "report.json").read_text())
    rows = read_csv(out / "results.csv")
    assert summary["interrupted"] is True and 4 <= summary["processed"] == len(rows) < 64
    assert all(r["label"] in ("dark", "bright") for r in rows)
    assert len(json.loads((out / "results.json").read_text())) == len(rows)
    resumed = start_slow_run(tmp_path, many_images, out, "--resume")
    stdout, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr
    assert f"{len(rows)} already done" in stdout and len(read_csv(out / "results.csv")) == 64


# -- output paths -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/olute.png", "abs/olute.png"),
        ("a/../../b.png", "a/b.png"),
        ("C:\\Windows\\x.jpg", "Windows/x.jpg"),
        (
            "we|ird\nna*me?.png",
            "we_ird_na_me_~323a7f55.png",
        ),  # a renamed part keeps a hash of its original name
        ("...", "_"),
        ("", "_"),
        ("ok/sub dir/ü.png", "ok/sub dir/ü.png"),
    ],
)
def test_safe_relpath_never_leaves_the_folder(name, expected):
    assert safe_relpath(name).as_posix() == expected


def test_output_path_stays_inside_even_through_a_symlink(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert output_path(out, "../x/y.jpg", ".png") == out.resolve() / "x" / "y.png"
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(WorkflowError, match=r"link/z\.png: output file would be written outside"):
        output_path(out, "link/z.png")


def test_odd_input_names_are_saved_inside_the_output_folder(tmp_path, wf):
    src = tmp_path / "in"
    write_images(src, {"we|ird?name.png": 9, "..hidden..png": 9})
    report = run_on(wf, folder=src, output_dir=tmp_path / "out")
    saved = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert len(saved) == 1 and re.fullmatch(
        r"we_ird_name~[0-9a-f]{8}\.png", saved[0]
    )  # renamed: hash of the name
    assert report.processed == 1  # dot-files are skipped as hidden


def test_saved_images_never_overwrite_inputs(tmp_path, wf):
    write_images(tmp_path, {"cat.png": 40})
    with pytest.raises(InputError, match=r"cat\.png: not saved, it would overwrite an input"):
        run_on(wf, path=tmp_path / "cat.png", output_dir=tmp_path)
    assert np.asarray(Image.open(tmp_path / "cat.png")).max() == 40
    root = tmp_path / "out" / "photos"  # output folder above the input folder
    write_images(root, {"a.png": 10, "photos/x.png": 20, "x.png": 30})
    report = run_on(wf, folder=root, output_dir=tmp_path / "out")
    assert [e["path"] for e in report.errors] == [
        "photos/x.png"
    ] and "would overwrite an input" in report.errors[0]["reason"]
    assert np.asarray(Image.open(root / "x.png")).max() == 30 and report.processed == 2


# -- video ------------------------------------------------------------------------------------------------
def make_video(path: Path, values: list[int]) -> None:
    with VideoWriter(path, fps=8) as writer:
        for v in values:
            writer.write(np.full((24, 32, 3), v, np.uint8))


def test_video_run_gives_rows_per_frame_and_an_annotated_video(tmp_path, wf):
    values = [20, 230, 40, 220, 60, 200, 80]
    make_video(tmp_path / "clip.avi", values)
    report = run_on(wf, video=tmp_path / "clip.avi", output_dir=tmp_path / "out", batch_size=3)
    rows = read_csv(report.results_csv)
    assert [(r["path"], r["frame"]) for r in rows] == [("clip.avi", str(i)) for i in range(7)]
    assert [r["label"] for r in rows] == ["dark", "bright"] * 3 + ["dark"]
    frames = [f for _, f in iter_video_frames(tmp_path / "out" / "clip_annotated.mp4")]
    assert len(frames) == 7
    assert all(abs(f.mean() - (255 - v)) < 15 for f, v in zip(frames, values))


class FailBright(Task):
    """Passes the image through; raises on bright images."""

    name = "fail_bright"
    inputs = (Port("image", ports.Image),)
    outputs = (Port("image", ports.AnnotatedImage),)

    def run(self):
        img = self.get_input("image").data
        if img.mean() > 128:
            raise ValueError("too bright")
        self.set_output("image", img)


def test_video_frames_that_fail_are_reported_and_the_video_keeps_every_frame(tmp_path):
    wf = Workflow(registry=make_registry())
    wf.add_task(FailBright(), auto_connect=True)
    make_video(tmp_path / "clip.avi", [20, 230, 40])
    report = run_on(wf, video=tmp_path / "clip.avi", output_dir=tmp_path / "out", batch_size=2)
    assert (report.processed, report.failed) == (2, 1)
    assert report.errors == [
        {"path": "clip.avi", "frame": 1, "reason": "task 'fail_bright' failed: ValueError: too bright"}
    ]
    assert [r["frame"] for r in read_csv(report.results_csv)] == ["0", "2"]
    frames = [f for _, f in iter_video_frames(tmp_path / "out" / "clip_annotated.mp4")]
    assert len(frames) == 3 and frames[1].mean() > 200  # the failed frame is written as it came
    with pytest.raises(InputError, match=r"missing\.avi: no such video file"):
        run_on(wf, video=tmp_path / "missing.avi")


# -- run_inputs: the CLI's dispatch -----------------------------------------------------------------------
def test_run_inputs_dispatches_on_the_value(tmp_path, wf):
    write_images(tmp_path / "folder", {"a.png": 0, "b.png": 255})
    write_images(tmp_path, {"one.png": 255})
    make_video(tmp_path / "clip.avi", [0, 255])
    assert run_inputs(wf, {"image": str(tmp_path / "folder")}, tmp_path / "o1").processed == 2
    single = run_inputs(wf, {"image": str(tmp_path / "one.png")}, tmp_path / "o2")
    assert single.outputs["mean_classifier.classification"].top.label == "bright"
    video = run_inputs(wf, {"image": str(tmp_path / "clip.avi")}, tmp_path / "o3")
    assert [r["frame"] for r in read_csv(video.results_csv)] == ["0", "1"]
    with pytest.raises(InputError, match=r"nothing\.png: no such file or folder \(input 'image'\)"):
        run_inputs(wf, {"image": str(tmp_path / "nothing.png")}, tmp_path / "o4")
    with pytest.raises(InputError, match=r"has no input 'imgae' \(did you mean 'image'\?\)"):
        run_inputs(wf, {"imgae": "x"}, tmp_path / "o5")
    with pytest.raises(InputError, match=r"needs input 'image' \(image\): give it as --input image=PATH"):
        run_inputs(wf, {}, tmp_path / "o6")


def test_run_inputs_passes_non_image_inputs_to_every_item(tmp_path):
    wf = Workflow(registry=make_registry(), inputs={"image": "image", "model": "model"})
    clf = wf.add_task(name="mean_classifier", auto_connect=True)
    assert {(e.src_port, e.dst_port) for e in wf.edges} == {("image", "image"), ("model", "model")}
    write_images(tmp_path / "in", {"a.png": 3})
    run_inputs(wf, {"image": str(tmp_path / "in"), "model": "weights.pt"}, tmp_path / "out")
    assert clf.get_input("model").data == Path("weights.pt")


def test_a_workflow_without_inputs_runs_once(tmp_path):
    MakeModel.runs = 0
    wf = Workflow(registry=make_registry(), inputs={})
    wf.add_task(name="make_model")
    report = run_inputs(wf, {}, tmp_path / "out")
    assert isinstance(report, RunReport) and MakeModel.runs == 1
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == [
        {"outputs": {"model": "model.pt", "metrics": [{"epoch": 1}]}}
    ]
    assert (
        MakeModel.seen_output_dir == (tmp_path / "out").resolve()
    )  # passed as run context, not set on the task
    assert wf.get_task("make_model").context.output_dir is None  # only while the run lasts
    assert run_once(wf).outputs["model"] == Path("model.pt")


# -- results files ----------------------------------------------------------------------------------------
def test_results_writer_widens_the_header_when_later_rows_bring_new_columns(tmp_path):
    from workflow.run.results_files import ResultsWriter

    writer = ResultsWriter(tmp_path / "r.csv", tmp_path / "r.jsonl")
    writer.start()
    writer.write([({"path": "a.png", "x": 1}, {"path": "a.png"})])
    writer.write([({"path": "b.png", "x": 2, "y": "z"}, {"path": "b.png"})])
    writer.close()
    assert read_csv(tmp_path / "r.csv") == [
        {"path": "a.png", "x": "1", "y": ""},
        {"path": "b.png", "x": "2", "y": "z"},
    ]


def test_a_folder_of_only_bad_files_still_writes_every_results_file(tmp_path, wf):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(b"")
    report = run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out")
    assert (report.processed, report.failed) == (0, 1)
    # the header comes from the declared outputs (the pipeline), not from the (absent) data
    assert report.results_csv.read_text() == "path,label,score,top_k\n"
    assert json.loads(report.results_json.read_text()) == []
    assert json.loads(report.report_json.read_text())["errors"] == [
        {"path": "a.jpg", "reason": "empty file (0 bytes)"}
    ]


def test_an_optional_output_does_not_prefix_the_main_output_columns(tmp_path):
    class WithOptional(MeanClassifier):
        name = "mean_with_rois"
        outputs = MeanClassifier.outputs + (Port("detections", ports.Detections, optional=True),)

    wf = Workflow(registry=make_registry())
    wf.add_task(WithOptional(), auto_connect=True)
    write_images(tmp_path / "in", {"x.png": 0})
    report = run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out")
    # the main output's columns stay bare; the optional output's (declared, so always in the header) are
    # prefixed
    assert list(read_csv(report.results_csv)[0]) == [
        "path",
        "label",
        "score",
        "top_k",
        "detections.count",
        "detections.boxes",
    ]


class Forwarder(Task):
    """Forwards its input (as Ikomia's classifiers do on output 0) beside an inverted copy."""

    name = "forwarder"
    inputs = (Port("image", ports.Image),)
    outputs = (
        Port("original", ports.Image, forwards="image"),
        Port("inverted", ports.AnnotatedImage),
    )

    def run(self):
        image = self.get_input("image").data
        self.set_output("original", image)
        self.set_output("inverted", 255 - image)


def test_an_output_that_forwards_the_input_is_not_saved_again(tmp_path):
    write_images(tmp_path / "in", {"a.png": 10, "sub/b.png": 20})
    reg = make_registry()
    reg.register(Forwarder)
    wf = Workflow(registry=reg)
    wf.add_task(name="forwarder", auto_connect=True)
    run_on(wf, folder=tmp_path / "in", output_dir=tmp_path / "out")
    saved = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert saved == ["a.png", "sub/b.png"]  # the inverted images, at the input's relative paths
    assert np.all(np.asarray(Image.open(tmp_path / "out" / "a.png")) == 245)

"""Folder inference on a local Ray with 2 actors of 1 CPU: the same rows as a local run, bad files, resume,
setup errors."""

from __future__ import annotations

import csv
import json

import pytest

from .helpers import make_checkpoint, make_images, pipeline_text

N_IMAGES = 40
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # from inside ray


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A folder of N_IMAGES images plus one corrupt file, a pipeline over a small random ResNeXt, and its
    local run."""
    import torch

    from workflow import Workflow

    tmp = tmp_path_factory.mktemp("ray")
    rels = make_images(tmp / "photos", N_IMAGES)
    (tmp / "photos" / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    pipeline = tmp / "classify.yaml"
    pipeline.write_text(pipeline_text(make_checkpoint(tmp / "model.pt")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = Workflow.load(pipeline).run_on(folder=tmp / "photos", output_dir=tmp / "local")
    finally:
        torch.set_num_threads(threads)
    assert (local.processed, local.failed) == (N_IMAGES, 1)
    return tmp, pipeline, rels


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fp:
        return list(csv.DictReader(fp))


def assert_same_rows(got_rows: list[dict[str, str]], want_rows: list[dict[str, str]]) -> None:
    assert [r["path"] for r in got_rows] == [r["path"] for r in want_rows]
    for got, want in zip(got_rows, want_rows):
        assert got["label"] == want["label"], got["path"]
        assert abs(float(got["score"]) - float(want["score"])) < 1e-4, got["path"]


def test_ray_run_gives_the_local_rows_and_resumes(ray_cluster, data, capsys):
    from workflow import Workflow
    from workflow.cli import main

    tmp, pipeline, rels = data
    out = tmp / "ray"
    wf = Workflow.load(pipeline)
    report = wf.run_on(
        folder=tmp / "photos", engine="ray", output_dir=out, actors=2, actor_cpus=1, batch_size=4
    )
    assert set(wf.get_task_seconds()) >= {"classify", "total"}
    local_rows = read_csv(tmp / "local" / "results.csv")
    assert sorted(r["path"] for r in local_rows) == rels
    assert_same_rows(read_csv(out / "results.csv"), local_rows)
    assert (report.processed, report.failed, report.skipped) == (N_IMAGES, 1, 0)
    summary, local_summary = (json.loads((d / "report.json").read_text()) for d in (out, tmp / "local"))
    assert summary["errors"] == local_summary["errors"] and [e["path"] for e in summary["errors"]] == [
        "b/broken.jpg"
    ]
    assert summary["engine"] == {"name": "ray", "actors": 2, "actor_cpus": 1, "batch_size": 4}
    assert summary["source"] == local_summary["source"] and summary["processed"] == N_IMAGES
    assert [r["path"] for r in json.loads((out / "results.json").read_text())] == [
        r["path"] for r in local_rows
    ]

    # a run stopped after 15 rows; the resumed run (through the CLI) does the rest, no row twice
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(lines[:16]))
    capsys.readouterr()
    code = main(
        [
            "run",
            str(pipeline),
            "--input",
            f"image={tmp / 'photos'}",
            "--output",
            str(out),
            "--resume",
            "--engine",
            "ray",
            "--actors",
            "2",
            "--batch-size",
            "4",
        ]
    )
    captured = capsys.readouterr()
    assert code == 3 and f"{N_IMAGES - 15} processed, 1 failed, 15 already done" in captured.out
    assert "b/broken.jpg" in captured.err
    rows = read_csv(out / "results.csv")
    assert len(rows) == N_IMAGES and sorted(r["path"] for r in rows) == rels
    assert_same_rows(sorted(rows, key=lambda r: r["path"].split("/")), local_rows)
    assert len(json.loads((out / "results.json").read_text())) == N_IMAGES


def test_a_setup_error_stops_the_job_with_one_line(ray_cluster, data, tmp_path, capsys):
    from workflow.cli import main

    tmp, _, _ = data
    (tmp_path / "broken_model.pt").write_bytes(
        b"not a checkpoint"
    )  # exists, so only loading it fails: in the actors
    pipeline = tmp_path / "broken.yaml"
    pipeline.write_text(pipeline_text(tmp_path / "broken_model.pt"))
    code = main(
        [
            "run",
            str(pipeline),
            "--input",
            f"image={tmp / 'photos'}",
            "--output",
            str(tmp_path / "out"),
            "--engine",
            "ray",
            "--actors",
            "2",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: ") and "broken_model.pt" in err[0]
    summary = json.loads((tmp_path / "out" / "report.json").read_text())
    assert summary["fatal"].startswith("SetupError: ") and summary["processed"] == 0


def test_locations_are_listed_like_local_folders(tmp_path):
    from workflow.ray_engine.listing import LocationSource, folder_source, todo_names

    for rel in ("b/2.png", "a/10.jpg", "a/9.jpg", ".hidden/x.png", "a/.y.png", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    uri = folder_source(tmp_path.as_uri(), tmp_path / "out")
    assert isinstance(uri, LocationSource)
    assert (
        todo_names(uri)
        == todo_names(folder_source(str(tmp_path), tmp_path / "out"))
        == ["a/10.jpg", "a/9.jpg", "b/2.png"]
    )
    assert (
        uri.drop({("a/9.jpg",)}) == 1
        and todo_names(uri) == ["a/10.jpg", "b/2.png"]
        and uri.owns(("b/2.png",))
    )


def test_bad_options_are_refused_before_ray_starts(tmp_path):
    from workflow import Workflow
    from workflow.cli import main
    from workflow.core.errors import InputError
    from workflow.ray_engine import run_on_ray

    (tmp_path / "in").mkdir()
    with pytest.raises(InputError, match="actors must be"):
        run_on_ray(Workflow(), tmp_path / "in", output_dir=tmp_path / "out", actors=0)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(pipeline_text(tmp_path / "m.pt"))
    assert main(["run", str(pipeline), "--input", f"image={tmp_path / 'in'}", "--actors", "2"]) == 1


def test_actor_threads_follow_its_cpus(monkeypatch):
    from workflow.ray_engine.threads import thread_env

    env = thread_env(3)
    # the engine states a thread budget; each plugin turns it into its own settings
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["WORKFLOW_NUM_THREADS"] == "3"
    assert not any("OPENVINO" in k for k in env)


def test_files_of_a_batch_that_kills_its_actor_are_reported_and_the_run_goes_on(data, tmp_path, monkeypatch):
    """The driver's side, with the pool replaced by one whose second batch comes back Lost (no Ray needed)."""
    from workflow import Workflow
    from workflow.ray_engine import cluster, pool
    from workflow.ray_engine.actor import OK

    class FakePool:
        def __init__(self, cls, args, size, cpus):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def map(self, batches):
            for k, names in enumerate(batches):
                yield (
                    pool.Lost("The actor died unexpectedly")
                    if k == 1
                    else [
                        (
                            n,
                            OK,
                            "",
                            {"path": n, "label": "ant", "score": 0.5, "top_k": "ant:0.5"},
                            {"path": n},
                            {},
                        )
                        for n in names
                    ]
                )

    monkeypatch.setattr(pool, "ActorPool", FakePool)
    monkeypatch.setattr(cluster, "connect", lambda address=None: None)
    tmp, pipeline, rels = data
    report = Workflow.load(pipeline).run_on(
        folder=tmp / "photos", engine="ray", output_dir=tmp_path, actors=2, batch_size=4
    )
    lost = sorted([*rels, "b/broken.jpg"], key=lambda p: p.split("/"))[
        4:8
    ]  # the second batch, in listing order
    assert (report.processed, report.failed) == (N_IMAGES + 1 - 4, 4)
    assert [e["path"] for e in report.errors] == lost
    assert all(
        "Ray actor running this file's batch died (The actor died unexpectedly)" in e["reason"]
        for e in report.errors
    )
    assert len(read_csv(tmp_path / "results.csv")) == N_IMAGES + 1 - 4

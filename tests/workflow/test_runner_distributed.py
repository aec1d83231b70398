"""Folder inference sharded over ranks (torchrun's RANK/WORLD_SIZE, set by hand here) and merged by rank 0."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workflow.tasks_for_tests import make_registry
from workflow import Workflow, WorkflowError
from workflow.run.runner import run_on
from workflow.run.sharding import wait_for_ranks, write_rank_report

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import os, sys
from tests.workflow.tasks_for_tests import make_registry
from workflow import Workflow
from workflow.run.runner import run_inputs

wf = Workflow(registry=make_registry())
wf.add_task(name="mean_classifier", auto_connect=True)
wf.add_task(name="invert", auto_connect=True)
report = run_inputs(wf, {"image": sys.argv[1]}, sys.argv[2], resume="--resume" in sys.argv, batch_size=3)
print(os.environ["RANK"], report.processed, report.failed, report.skipped)
"""


def build(wf_registry=None) -> Workflow:
    wf = Workflow(registry=wf_registry or make_registry())
    wf.add_task(name="mean_classifier", auto_connect=True)
    wf.add_task(name="invert", auto_connect=True)
    return wf


def rows(path: Path) -> set[tuple[tuple[str, str], ...]]:
    with open(path, newline="") as fp:
        return {tuple(sorted(r.items())) for r in csv.DictReader(fp)}


def launch(tmp_path: Path, src: Path, out: Path, world: int, *extra: str) -> list[str]:
    """Start ``world`` ranks as torchrun would (same env vars), wait for all, return their stdout lines."""
    script = tmp_path / "rank.py"
    script.write_text(SCRIPT)
    run_id = uuid.uuid4().hex
    procs = []
    for rank in range(world):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
            "WORKFLOW_RUN_ID": run_id,
            "WORKFLOW_DIST_TIMEOUT": "60",
            "WORKFLOW_PROGRESS": "0",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), str(src), str(out), *extra],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    lines = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        lines.append(stdout.strip())
    return lines


@pytest.fixture
def folder(tmp_path) -> Path:
    src = tmp_path / "photos"
    for i in range(23):
        path = src / f"group{i % 3}" / f"img{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 9, 3), (i * 11) % 256, np.uint8)).save(path)
    (src / "group1" / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return src


def test_two_ranks_shard_the_folder_and_rank0_merges_the_same_rows(tmp_path, folder):
    single = run_on(build(), folder=folder, output_dir=tmp_path / "single", batch_size=3)
    out = tmp_path / "dist"
    lines = launch(tmp_path, folder, out, 2)
    counts = {line.split()[0]: list(map(int, line.split()[1:])) for line in lines}
    assert counts == {
        "0": [23, 1, 0],
        "1": [12, 0, 0],
    }  # rank 0 returns the merged totals, rank 1 its own shard
    assert rows(out / "results.csv") == rows(single.results_csv) and len(rows(out / "results.csv")) == 23
    with open(out / "results.csv", newline="") as fp:
        assert [r["path"] for r in csv.DictReader(fp)] == [
            r["path"] for r in csv.DictReader(open(single.results_csv))
        ]
    report = json.loads((out / "report.json").read_text())
    assert (report["processed"], report["failed"], report["rows"]) == (23, 1, 23)
    assert report["errors"] == json.loads(single.report_json.read_text())["errors"]
    shards = {r["rank"]: r["processed"] + r["failed"] for r in report["ranks"]}
    assert shards == {0: 12, 1: 12}  # 24 files, disjoint and complete
    assert len(json.loads((out / "results.json").read_text())) == 23
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == sorted(
        p.relative_to(single.results_csv.parent).as_posix() for p in single.results_csv.parent.rglob("*.png")
    )
    assert not (out / ".parts").exists()


def test_distributed_resume_after_a_partial_single_run(tmp_path, folder):
    out = tmp_path / "out"
    run_on(build(), folder=folder, output_dir=out, batch_size=3)
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(lines[:11]))  # header + 10 rows survive
    launch(tmp_path, folder, out, 2, "--resume")
    report = json.loads((out / "report.json").read_text())
    assert (report["skipped"], report["processed"], report["rows"]) == (10, 13, 23)
    paths = [r["path"] for r in csv.DictReader(open(out / "results.csv"))]
    assert len(paths) == len(set(paths)) == 23


def test_rank0_gives_up_on_a_silent_rank(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_RUN_ID", uuid.uuid4().hex)
    parts = tmp_path / ".parts"
    write_rank_report(parts, 0, {"processed": 1})
    with pytest.raises(
        WorkflowError, match=r"rank 1 showed no sign of life for 0\.3 s \(WORKFLOW_DIST_TIMEOUT\)"
    ):
        wait_for_ranks(parts, 2, timeout=0.3, poll=0.05)


def test_a_failed_rank_is_reported_by_rank0(tmp_path, monkeypatch, folder):
    monkeypatch.setenv("WORKFLOW_RUN_ID", uuid.uuid4().hex)
    parts = tmp_path / ".parts"
    write_rank_report(parts, 1, {"fatal": "TaskRunError: task 'train' failed: out of memory"})
    with pytest.raises(
        WorkflowError, match=r"rank 1 failed: TaskRunError: task 'train' failed: out of memory"
    ):
        wait_for_ranks(parts, 2, timeout=5)


def test_stale_parts_of_another_launch_are_not_merged(tmp_path, monkeypatch):
    parts = tmp_path / ".parts"
    monkeypatch.setenv("WORKFLOW_RUN_ID", "old-launch")
    write_rank_report(parts, 1, {"processed": 5})
    monkeypatch.setenv("WORKFLOW_RUN_ID", "new-launch")
    write_rank_report(parts, 0, {"processed": 1})
    with pytest.raises(WorkflowError, match="rank 1 showed no sign of life"):
        wait_for_ranks(parts, 2, timeout=0.3, poll=0.05)

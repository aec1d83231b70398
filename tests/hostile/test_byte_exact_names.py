"""Class 8: every file name the file system allows round-trips through every results file and resume.

Non-UTF-8 bytes, ``\\r``, ``\\n``, U+2028 and U+0085 in names: one row per image in
``results.csv`` (as a standard CSV reader sees it), ``results.jsonl`` and a valid
``results.json``; ``--resume`` redoes nothing.
"""
from __future__ import annotations

import csv
import json
import os

import pytest

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd

NAMES = [b"plain.png", b"latin\xff\xfe.png", b"cr\rname.png", b"nl\nname.png", "ls\u2028x.png".encode(),
         "nel\u0085x.png".encode(), b"quote\"comma,semi;.png", b"tab\tname.png", b" lead space.png"]


@pytest.fixture
def odd_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, raw in enumerate(NAMES):
        tiny_png(tmp_path / "src.png", 10 * i)
        os.rename(tmp_path / "src.png", os.path.join(os.fsencode(folder), raw))
    return folder


def _rows(out):
    with open(out / "results.csv", newline="", encoding="utf-8", errors="surrogateescape") as fp:
        return list(csv.DictReader(fp))


def _check(out, expected: set[str]):
    rows = _rows(out)
    assert len(rows) == len(expected), rows
    assert {r["path"] for r in rows} == expected
    jsonl = [json.loads(line) for line in (out / "results.jsonl").read_bytes().split(b"\n") if line]
    assert {r["path"] for r in jsonl} == expected
    records = json.loads((out / "results.json").read_bytes())
    assert {r["path"] for r in records} == expected
    report = json.loads((out / "report.json").read_bytes())
    return rows, report


@pytest.mark.parametrize("save", [True, False])
def test_odd_names_round_trip_through_results_and_resume(tmp_path, plugins, odd_folder, save):
    task = "mark" if save else "brightness"
    outputs = "{annotated: $steps.t.image}" if save else None
    file = pipeline(tmp_path / "p.yaml", task, outputs=outputs)
    out = tmp_path / "out"
    cmd = workflow_cmd("run", str(file), "--input", f"image={odd_folder}", "-o", str(out))
    res = run_bounded(cmd, env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 0, str(res)
    expected = {os.fsdecode(n) for n in NAMES}
    _check(out, expected)
    again = run_bounded(cmd + ["--resume"], env=child_env(plugins))
    assert_bounded(again)
    assert again.rc == 0 and "0 processed" in again.out and f"{len(NAMES)} already done" in again.out, str(again)
    _check(out, expected)


def test_odd_name_in_a_video_path_is_not_a_crash(tmp_path, plugins):
    import cv2
    import numpy as np

    folder = os.path.join(os.fsencode(tmp_path), b"vid\xff")
    os.mkdir(folder)
    video = os.path.join(folder, b"clip.avi")
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (16, 16))
    for i in range(5):
        writer.write(np.full((16, 16, 3), i * 40, np.uint8))
    writer.release()
    os.rename(tmp_path / "clip.avi", video)
    file = pipeline(tmp_path / "p.yaml", "brightness")
    out = tmp_path / "out"
    res = run_bounded(workflow_cmd("run", str(file), "--input", f"image={os.fsdecode(video)}", "-o", str(out)),
                      env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 0, str(res)
    assert len(_rows(out)) == 5

"""Class 13: a video that ends before the frame count its header declares is reported, not passed as
complete."""

from __future__ import annotations

import json

import numpy as np

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, workflow_cmd


def _avi(path, frames=30, side=64):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (side, side))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (side, side, 3), np.uint8))
    writer.release()
    return path


def test_truncated_video_says_it_ended_early(tmp_path, plugins):
    video = _avi(tmp_path / "clip.avi")
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    file = pipeline(tmp_path / "p.yaml", "brightness")
    out = tmp_path / "out"
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={video}", "-o", str(out)), env=child_env(plugins)
    )
    assert_bounded(res)
    assert res.rc in (0, 3), str(res)
    assert "clip.avi" in res.err and "30" in res.err and "warning" in res.err, str(res)
    report = json.loads((out / "report.json").read_text())
    assert "30" in json.dumps(report) and (
        "early" in json.dumps(report) or "truncated" in json.dumps(report)
    ), report


def test_complete_video_has_no_warning(tmp_path, plugins):
    video = _avi(tmp_path / "clip.avi", frames=8)
    file = pipeline(tmp_path / "p.yaml", "brightness")
    out = tmp_path / "out"
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={video}", "-o", str(out)), env=child_env(plugins)
    )
    assert_bounded(res)
    assert res.rc == 0 and "warning" not in res.err, str(res)

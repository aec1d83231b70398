"""Class 11: SIGTERM (what ``kill`` and process managers send) stops a run like Ctrl-C.

Partial results flushed, ``report.json`` written, a non-zero exit and one ``error:`` line.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_terminated_folder_run_reports_and_exits_non_zero(tmp_path, plugins, sig):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(40):
        tiny_png(folder / f"{i:02d}.png", i)
    marker = tmp_path / "started"
    file = pipeline(tmp_path / "p.yaml", "sleepy", outputs="{img: $steps.t.image}")
    out = tmp_path / "out"

    def kill_when_started(proc):
        deadline = time.monotonic() + 8
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(0.4)
        proc.send_signal(sig)

    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={folder}", "-o", str(out), "--no-images"),
        env=child_env(plugins, SLEEPY_MARKER=str(marker)),
        on_start=kill_when_started,
    )
    assert_bounded(res)
    assert res.rc in (130, 143), str(res)
    lines = [line for line in res.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "interrupted" in lines[0], str(res)
    report = json.loads((out / "report.json").read_text())
    assert report, report
    assert (out / "results.csv").exists()

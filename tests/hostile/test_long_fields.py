"""Class 10: fields of any length written by a run are read back by ``--resume`` (no CSV field limit)."""

from __future__ import annotations

import csv
import sys

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd


def test_resume_reads_a_200kb_class_name(tmp_path, plugins):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        tiny_png(folder / f"{i}.png", 50 * i)
    file = pipeline(tmp_path / "p.yaml", "long_label")
    out = tmp_path / "out"
    cmd = workflow_cmd("run", str(file), "--input", f"image={folder}", "-o", str(out))
    first = run_bounded(cmd, env=child_env(plugins))
    assert_bounded(first)
    assert first.rc == 0, str(first)
    again = run_bounded(cmd + ["--resume"], env=child_env(plugins))
    assert_bounded(again)
    assert again.rc == 0 and "3 already done" in again.out, str(again)
    csv.field_size_limit(sys.maxsize)
    with open(out / "results.csv", newline="", encoding="utf-8") as fp:
        rows = list(csv.DictReader(fp))
    assert len(rows) == 3 and any(len(v) >= 200_000 for v in rows[0].values())


def test_unreadable_results_file_on_resume_names_the_file(tmp_path, plugins):
    folder = tmp_path / "imgs"
    folder.mkdir()
    tiny_png(folder / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_bytes(b'path,x\n"' + b"a" * 50 + b"\n")  # an unterminated quote
    (out / "results.jsonl").write_text('{"path": "a.png"}\n')
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={folder}", "-o", str(out), "--resume"),
        env=child_env(plugins),
    )
    assert_bounded(res)
    assert res.rc == 0 or "results.csv" in res.err, str(res)

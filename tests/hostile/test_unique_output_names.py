"""Class 9: sanitised output names stay unique within a run (``x?y``, ``x*y``, ``x_y`` are three files)."""

from __future__ import annotations

import csv
import json

import pytest

from tests.hostile.helpers import assert_bounded, child_env, pipeline, run_bounded, tiny_png, workflow_cmd

GROUPS = [
    ["x?y.png", "x*y.png", "x_y.png", "x|y.png"],
    ["a" * 200 + "1.png", "a" * 200 + "2.png"],
    ["sub/ x.png", "sub/x.png", "sub/x .png"],
    ["q\ny.png", "q\ry.png", "q_y.png"],
]


@pytest.mark.parametrize("names", GROUPS, ids=["odd-chars", "long", "spaces", "controls"])
def test_sanitised_names_do_not_collide(tmp_path, plugins, names):
    folder = tmp_path / "imgs"
    for i, name in enumerate(names):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tiny_png(target, 30 * i + 10)
    file = pipeline(tmp_path / "p.yaml", "mark", outputs="{annotated: $steps.t.image}")
    out = tmp_path / "out"
    cmd = workflow_cmd("run", str(file), "--input", f"image={folder}", "-o", str(out))
    res = run_bounded(cmd, env=child_env(plugins))
    assert_bounded(res)
    assert res.rc == 0, str(res)
    with open(out / "results.csv", newline="", encoding="utf-8") as fp:
        assert len(list(csv.DictReader(fp))) == len(names)
    saved = _saved(out)
    assert len(saved) == len(names) and len(set(saved)) == len(names), saved
    for rel in saved:
        assert (out / rel).is_file(), rel
    again = run_bounded(cmd + ["--resume"], env=child_env(plugins))  # resume keeps the same names
    assert_bounded(again)
    assert again.rc == 0 and _saved(out) == saved, str(again)


def _saved(out) -> list[str]:
    """The saved image of every record, in order."""
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().split("\n") if line]
    return [r["outputs"]["annotated"]["file"] for r in records]

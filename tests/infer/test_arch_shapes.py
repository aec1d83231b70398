"""Architecture shapes: built once, then read from disk without torchvision; a damaged file is rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys

from infer_torchvision_resnext.checkpoint import _shapes as arch_shapes


def _fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path))
    arch_shapes.expected_shapes.cache_clear()


def test_shapes_are_built_once_then_read_without_torchvision(monkeypatch, tmp_path):
    _fresh(monkeypatch, tmp_path)
    built = arch_shapes.expected_shapes("resnext50_32x4d", 7)
    assert built["fc.weight"] == (7, 2048) and built["conv1.weight"] == (64, 3, 7, 7)
    files = list((tmp_path / "shapes").glob("resnext50_32x4d-7-tv*.json"))
    assert len(files) == 1
    code = (
        "import json, sys; from infer_torchvision_resnext.checkpoint._shapes import expected_shapes as e; "
        "s = e('resnext50_32x4d', 7); print(json.dumps([len(s), list(s['fc.weight']), 'torchvision' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "WORKFLOW_CACHE_DIR": str(tmp_path)},
    ).stdout
    assert json.loads(out) == [len(built), [7, 2048], False]


def test_a_damaged_or_foreign_file_is_rebuilt(monkeypatch, tmp_path):
    _fresh(monkeypatch, tmp_path)
    want = arch_shapes.expected_shapes("resnext50_32x4d", 3)
    path = next((tmp_path / "shapes").glob("*.json"))
    for bad in (
        "{not json",
        json.dumps({"fc.weight": [-1]}),
        json.dumps(["a"]),
        json.dumps({"fc.weight": "x"}),
    ):
        path.write_text(bad)
        arch_shapes.expected_shapes.cache_clear()
        assert arch_shapes.expected_shapes("resnext50_32x4d", 3) == want
        assert json.loads(path.read_text())["fc.weight"] == [3, 2048]  # written back whole


def test_a_read_only_cache_still_answers(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(blocker))
    arch_shapes.expected_shapes.cache_clear()
    assert arch_shapes.expected_shapes("resnext50_32x4d", 2)["fc.bias"] == (2,)

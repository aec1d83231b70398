"""Setup errors stop a folder run at once: one ``error:`` line naming the task and parameter, exit code 1.

Runs the example pipeline through the CLI entry point in-process, on a 50-image folder with an
empty TORCH_HOME and WORKFLOW_OFFLINE unset, counting the download attempts.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest

from workflow.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "classify_folder.yaml"


@pytest.fixture
def folder(tmp_path):
    """50 small JPEGs in two sub-folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for i in range(50):
        path = root / f"part{i % 2}" / f"img{i:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path, quality=90)
    return root


@pytest.fixture
def downloads(torch_home, monkeypatch):
    """Every torch hub download fails as it does offline; returns the list of attempted URLs."""
    import torch.hub

    attempts: list[str] = []

    def refuse(url, *args, **kwargs):
        attempts.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return attempts


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def _assert_no_repeated_lines(text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), f"a message was printed more than once:\n{text}"


def test_weights_missing_offline_stop_the_folder_run_at_once(folder, downloads, tmp_path, capsys):
    code = main(["run", str(EXAMPLE), "--input", f"image={folder}", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: task 'classify': parameter 'pretrained_weights': ")
    assert "'resnext50_32x4d-1a0047aa.pth'" in lines[0] and "could not be downloaded" in lines[0]
    assert len(downloads) <= 1, downloads
    _assert_no_repeated_lines(err)


def _run_with_class_file(class_file: Path, folder, tmp_path, capsys) -> tuple[int, list[str], str]:
    pipeline = tmp_path / "classify.yaml"
    pipeline.write_text(
        EXAMPLE.read_text().replace(
            "params: {model_name: resnext50, top_k: 3}",
            f"params: {{model_name: resnext50, top_k: 3, class_file: '{class_file}'}}",
        )
    )
    assert "class_file" in pipeline.read_text()
    code = main(["run", str(pipeline), "--input", f"image={folder}", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    return code, _error_lines(err), err


def test_a_missing_class_file_stops_the_folder_run_at_once(folder, downloads, tmp_path, capsys):
    missing = tmp_path / "no_such_classes.txt"
    code, lines, err = _run_with_class_file(missing, folder, tmp_path, capsys)
    assert code == 1, err
    assert len(lines) == 1, err
    # caught when the pipeline is loaded, before any model or image: file, line, task and parameter
    assert lines[0].startswith(f"error: {tmp_path / 'classify.yaml'}:"), lines[0]
    assert (
        "task 'classify'" in lines[0]
        and "class_file" in lines[0]
        and f"'{missing}' does not exist" in lines[0]
    )
    assert downloads == []
    _assert_no_repeated_lines(err)


def test_an_empty_class_file_stops_the_folder_run_at_once(folder, downloads, tmp_path, capsys):
    empty = tmp_path / "classes.txt"
    empty.write_text("\n\n")
    code, lines, err = _run_with_class_file(empty, folder, tmp_path, capsys)
    assert code == 1, err
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"error: task 'classify': parameter 'class_file': class file '{empty}' has no class names"
    )
    assert downloads == []  # the class file is read before any weights are fetched
    _assert_no_repeated_lines(err)

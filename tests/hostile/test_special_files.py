"""Class 4: paths given as parameters or inputs must be regular files (folders where meant), read with a size
cap.

``/dev/zero`` as a class file grew to gigabytes; a FIFO blocked forever.
"""

from __future__ import annotations

import os

import pytest

from tests.hostile.helpers import (
    CHECKPOINT,
    MODEL,
    assert_bounded,
    child_env,
    pipeline,
    run_bounded,
    tiny_png,
    workflow_cmd,
)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return path


def _run(tmp_path, params: str, image=None, timeout: float | None = None, preload=None):
    file = pipeline(tmp_path / "p.yaml", "infer_torchvision_resnext", params=params)
    image = image or tiny_png(tmp_path / "a.png")
    return run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={image}", "-o", str(tmp_path / "out")),
        env=child_env(),
        preload=preload,
        **({"timeout": timeout} if timeout else {}),
    )


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo"])
def test_class_file_must_be_a_regular_file(tmp_path, resnext_checkpoint, fifo, special):
    target = str(fifo) if special == "fifo" else special
    res = _run(
        tmp_path, f"{{model_weight_file: '{resnext_checkpoint}', class_file: '{target}', input_size: 32}}"
    )
    assert_bounded(res)
    assert res.rc == 1 and target in res.err, str(res)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_weight_file_must_be_a_regular_file(tmp_path, fifo, special):
    target = {"fifo": str(fifo), "folder": str(tmp_path)}.get(special, special)
    res = _run(
        tmp_path,
        f"{{model_weight_file: '{target}', model_name: resnext50, input_size: 32}}",
        preload=CHECKPOINT,
    )
    assert_bounded(res)
    assert res.rc == 1 and target in res.err, str(res)


def test_checkpoint_loader_refuses_a_fifo(fifo):
    from tests.hostile.helpers import run_python

    res = run_python(
        "from infer_torchvision_resnext.checkpoint.format import load_checkpoint, CheckpointError\n"
        f"try:\n    load_checkpoint({str(fifo)!r})\nexcept CheckpointError as e:\n    print('REFUSED', e)\n",
        preload=CHECKPOINT,
    )
    assert_bounded(res)
    assert res.out.startswith("REFUSED") and str(fifo) in res.out, str(res)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_pipeline_file_must_be_a_regular_file(tmp_path, fifo, special):
    target = str(fifo) if special == "fifo" else special
    res = run_bounded(workflow_cmd("validate", target), env=child_env())
    assert_bounded(res)
    assert res.rc == 1 and target in res.err, str(res)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_image_input_must_be_a_regular_file(tmp_path, plugins, fifo, special):
    target = str(fifo) if special == "fifo" else special
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={target}", "-o", str(tmp_path / "out")),
        env=child_env(plugins),
    )
    assert_bounded(res)
    assert res.rc == 1 and target in res.err, str(res)


def test_fifo_inside_an_image_folder_is_listed_as_failed_not_waited_on(tmp_path, plugins):
    folder = tmp_path / "imgs"
    folder.mkdir()
    tiny_png(folder / "a.png")
    os.mkfifo(folder / "b.png")
    file = pipeline(tmp_path / "p.yaml", "brightness")
    res = run_bounded(
        workflow_cmd("run", str(file), "--input", f"image={folder}", "-o", str(tmp_path / "out")),
        env=child_env(plugins),
    )
    assert_bounded(res)
    assert res.rc in (0, 3), str(res)
    assert "b.png" in res.err or res.rc == 0, str(res)


def test_dataset_folder_that_is_a_device_is_refused(tmp_path):
    file = pipeline(
        tmp_path / "t.yaml",
        "train_torchvision_resnext",
        params="{dataset_folder: /dev/zero, epochs: 1, pretrained: false}",
        outputs="{model: $steps.t.model}",
    )
    res = run_bounded(
        workflow_cmd("run", str(file), "-o", str(tmp_path / "out")), env=child_env(), preload=MODEL
    )
    assert_bounded(res)
    assert res.rc == 1 and "/dev/zero" in res.err, str(res)

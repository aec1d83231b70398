"""Faults: a training process killed with SIGKILL mid-epoch leaves loadable checkpoints and resumes to the
end."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infer_torchvision_resnext.checkpoint.format import load_checkpoint
from train_torchvision_resnext.sample_data import export_digits

REPO = Path(__file__).resolve().parents[2]
PIPELINE = """version: 1
name: killed-training
inputs: {{}}
tasks:
  - id: train
    task: train_torchvision_resnext
    params: {{dataset_folder: '{data}', output_folder: '{runs}', epochs: 3, batch_size: 4, input_size: 32,
             use_pretrained: false, feature_extract: false, num_workers: 0, seed: 0, resume: {resume},
             quantize_int8: false}}  # INT8 calibration has its own tests
"""


def _workflow_run(pipeline: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORKFLOW_PROGRESS": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "workflow", "run", str(pipeline), "--output", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_mid_epoch_leaves_loadable_checkpoints_and_resume_finishes(tmp_path):
    data, runs = tmp_path / "digits", tmp_path / "runs"
    export_digits(data, {"train": 30, "val": 4}, digits=(0, 1, 2))
    first = tmp_path / "first.yaml"
    first.write_text(PIPELINE.format(data=data, runs=runs, resume="null"))
    proc = _workflow_run(first, tmp_path / "out1")
    deadline = time.monotonic() + 240
    while not list(runs.glob("*/last.pt")):  # epoch 1 is done; epoch 2 starts right away
        assert proc.poll() is None, f"training ended before it could be killed: {proc.stdout.read()}"
        assert time.monotonic() < deadline, "epoch 1 never finished"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    (run,) = runs.iterdir()  # the run's own timestamped folder inside output_folder
    last, best = load_checkpoint(run / "last.pt"), load_checkpoint(run / "best.pt")
    assert last.extra["epoch"] in (1, 2) and best.manifest.class_names == ["0", "1", "2"]

    second = tmp_path / "second.yaml"
    second.write_text(PIPELINE.format(data=data, runs=runs, resume=f"'{run}'"))
    proc = _workflow_run(second, tmp_path / "out2")
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert [p.name for p in runs.iterdir()] == [run.name]  # resumed in its own folder, no new run folder
    assert load_checkpoint(run / "last.pt").extra["epoch"] == 3
    with open(run / "metrics.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]

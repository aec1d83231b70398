"""Real data end to end: ResNeXt-50 learns 1,000 real MNIST digits; best.pt and its INT8 model answer alike.

Runs the repository's own demo pipeline (examples/pipelines/demo.yaml: train -> classify, the
classifier's ``model`` input auto-connected to the trainer's ``model`` output) on the validation folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from train_torchvision_resnext.sample_data import export_digits
from workflow import Workflow

PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "demo.yaml"


@pytest.mark.slow
def test_resnext50_learns_real_digits_and_inference_agrees(tmp_path):
    data = tmp_path / "digits"
    export_digits(
        data, {"train": 100, "val": 30}, seed=0
    )  # 1,000 training and 300 validation images, 10 classes
    wf = Workflow.load(PIPELINE)
    train = wf.get_task("train")
    train.set_parameters({"dataset_folder": str(data), "epochs": 3})
    assert {(e.src, e.src_port, e.dst, e.dst_port) for e in wf.edges} >= {
        ("train", "model", "classify", "model")
    }

    report = wf.run_on(folder=data / "val", output_dir=tmp_path / "results")

    result = train.get_results()
    assert report.ok and report.processed == 300
    assert result.best_top1 >= 0.6, result.rows  # chance is 0.1
    assert result.best_path == result.run_dir / "best.pt" and result.run_dir.is_relative_to(
        tmp_path / "results"
    )
    with open(report.results_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    label = next(c for c in rows[0] if c.endswith("label"))
    accuracy = sum(Path(r["path"]).parent.name == r[label] for r in rows) / len(rows)
    # the classifier loaded best.pt with its manifest (classes, 32 px recipe) and sees what validation saw
    assert accuracy == pytest.approx(result.best_top1, abs=0.01), (accuracy, result.best_top1)
    # the INT8 model calibrated at the end of training answers like fp32 on the 300 held-out digits
    # (98-99% on the demo's models; an overflow on AVX2 or a broken calibration falls far below 90%)
    int8 = json.loads((result.run_dir / "metrics.json").read_text())["int8"]
    assert int8["validation_images"] == 300 and int8["top1_agreement"] >= 0.9, int8
    assert abs(int8["top1_int8"] - int8["top1_fp32"]) <= 0.05, int8

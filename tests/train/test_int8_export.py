"""End-of-training INT8: best.int8/ next to best.pt, metrics.json records INT8 and fp32 top-1 and
agreement."""

from __future__ import annotations

import json

import pytest

from train_torchvision_resnext.trainer import train

from .helpers import tiny_params

nncf = pytest.importorskip("nncf")


def test_training_calibrates_int8_and_inference_finds_it(tmp_path, tiny_digits, monkeypatch):
    from infer_torchvision_resnext.int8 import cache as int8_cache
    from infer_torchvision_resnext.task import InferTorchvisionResnext
    from workflow.core import runtime as shared_runtime

    monkeypatch.setenv("WORKFLOW_CACHE_DIR", str(tmp_path / "cache"))
    result = train(tiny_params(tmp_path / "run", tiny_digits, quantize_int8=True))
    int8 = json.loads((result.run_dir / "metrics.json").read_text())["int8"]
    assert (
        int8["model"] == "best.int8" and int8["calibration_images"] == 12 and int8["validation_images"] == 6
    )
    assert (
        0.0 <= int8["top1_agreement"] <= 1.0
        and abs(int8["top1_int8"] - int8["top1_fp32"]) <= 1 - int8["top1_agreement"]
    )
    entry = int8_cache.read_entry(result.run_dir / "best.int8")
    assert entry.meta["weights_sha256"] == int8_cache.file_sha256(result.best_path)

    monkeypatch.setattr(
        shared_runtime, "cpu_info", lambda: shared_runtime.CpuInfo("AVX2 (test)", frozenset({"avx2"}))
    )
    task = InferTorchvisionResnext({"model_weight_file": str(result.best_path), "precision": "int8"})
    assert (
        task.load_model().runtime.precision == "int8"
    )  # found next to the checkpoint, no calibration_folder

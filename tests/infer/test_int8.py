"""INT8 through NNCF: cache entries, calibration folders, precision int8 and what auto picks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from infer_torchvision_resnext.backends.choice import resolve_runtime
from infer_torchvision_resnext.int8 import cache as int8_cache
from infer_torchvision_resnext.int8.calibration import calibration_files
from infer_torchvision_resnext.int8.quantize import Agreement
from infer_torchvision_resnext.int8.select import int8_available
from infer_torchvision_resnext.recipe import Preprocessing
from workflow.core import runtime as shared_runtime
from workflow.core.errors import SetupError

pytestmark = pytest.mark.skipif(not int8_available(), reason="nncf/openvino are not installed")
AVX2 = shared_runtime.CpuInfo("AMD EPYC (test)", frozenset({"avx2", "fma"}))


@pytest.fixture
def avx2(monkeypatch):
    """This process sees an AVX2-only CPU (no bf16), whatever it runs on."""
    monkeypatch.setattr(shared_runtime, "cpu_info", lambda: AVX2)


def _tiny_ov_model():
    """uint8 NHWC (N, 32, 32, 3) -> 10 logits: conv, pool, matmul; seeded."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([-1, 32, 32, 3], ov.Type.u8, name="image")
    f = ops.transpose(ops.convert(x, ov.Type.f32), ops.constant(np.array([0, 3, 1, 2])))
    f = ops.relu(
        ops.convolution(
            f,
            ops.constant(rng.normal(0, 0.05, (16, 3, 3, 3)).astype(np.float32)),
            [1, 1],
            [1, 1],
            [1, 1],
            [1, 1],
        )
    )
    f = ops.reduce_mean(f, ops.constant(np.array([2, 3])), keep_dims=False)
    return ov.Model(
        [ops.matmul(f, ops.constant(rng.normal(0, 1, (16, 10)).astype(np.float32)), False, False)], [x]
    )


def _save_crops(folder: Path, images: list[np.ndarray]) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"im{i:03d}.png")
    return folder


def test_entries_are_found_by_weights_preprocessing_and_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "WORKFLOW_CACHE_DIR", str(tmp_path / "cache")
    )  # its damaged record stays out of the session's cache
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    sha = int8_cache.file_sha256(weights)
    folder = int8_cache.cache_folder(sha, "k1")
    prep = Preprocessing(32, 32).to_dict()
    entry = int8_cache.save_int8(
        folder,
        _tiny_ov_model(),
        weights=weights,
        prep=Preprocessing(32, 32),
        calibration_id="c1",
        calibration={"images": 12},
        check=Agreement(10, 0.995),
        checked_on="held-out images",
    )
    assert entry.meta["format"] == int8_cache.FORMAT and entry.meta["check"]["on"] == "held-out images"
    assert int8_cache.find_entry(sha, prep).agreement == 0.995
    assert int8_cache.find_entry(sha, prep, calibration="c1").folder == folder
    assert int8_cache.find_entry(sha, prep, calibration="c2") is None
    assert int8_cache.find_entry(sha, Preprocessing(64, 64).to_dict()) is None
    weights.write_bytes(b"retrained")
    assert int8_cache.find_entry(int8_cache.file_sha256(weights), prep) is None
    (folder / "int8.json").write_text("{not json")
    assert int8_cache.find_entry(sha, prep) is None


def test_calibration_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(SetupError, match="calibration_folder '.*nowhere' is not a folder"):
        calibration_files(tmp_path / "nowhere", task_id="classify")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(SetupError, match="task 'classify': calibration_folder .* holds no image file"):
        calibration_files(tmp_path / "empty", task_id="classify")


@pytest.mark.parametrize(
    "flags,agreement,expected,why",
    [
        ({"avx2", "amx_bf16"}, 1.0, "bf16", "bf16: the CPU (amx) computes bf16 natively"),
        ({"avx2"}, 0.995, "int8", "agrees with fp32 on 99.5% of top-1 (>= 99%)"),
        ({"avx2"}, 0.98, "fp32", "agrees with fp32 on only 98.0% of top-1 (< 99%)"),
        ({"avx2"}, None, "fp32", "and no calibrated INT8 model of these weights exists"),
    ],
)
def test_auto_picks_by_cpu_class_and_recorded_agreement(monkeypatch, flags, agreement, expected, why):
    monkeypatch.setattr(shared_runtime, "cpu_info", lambda: shared_runtime.CpuInfo("cpu", frozenset(flags)))
    chosen = resolve_runtime("cpu", "auto", "openvino", int8_model="m.xml", int8_agreement=agreement)
    assert chosen.precision == expected and f"precision {expected}:" in chosen.reason and why in chosen.reason
    assert chosen.model_file == ("m.xml" if expected == "int8" else None)


def test_the_engine_knows_no_int8():
    """The INT8 rule is this plugin's: the engine's resolver refuses int8 unless a plugin offers it."""
    from workflow.core.errors import ParamError

    with pytest.raises(ParamError, match="precision' is 'int8'; expected auto, fp32, bf16, fp16$"):
        shared_runtime.resolve_runtime("cpu", "int8")
    assert not hasattr(shared_runtime, "INT8_MIN_AGREEMENT")


@pytest.mark.parametrize("args", [("cpu", "int8", "torch"), ("cpu", "int8", "auto")])
def test_int8_is_refused_where_it_cannot_run(args):
    from workflow.core.errors import ParamError

    model = "m.xml" if args[2] == "torch" else None
    with pytest.raises(ParamError, match="precision' is 'int8'.*OpenVINO"):
        resolve_runtime(*args, int8_model=model)


def test_int8_without_calibration_says_what_is_missing(probe, avx2):
    from infer_torchvision_resnext.task import InferTorchvisionResnext

    task = InferTorchvisionResnext({"model_weight_file": str(probe[0]), "precision": "int8"})
    with pytest.raises(
        SetupError, match="precision' is 'int8' but no calibrated INT8 model .*calibration_folder"
    ):
        task.load_model()


def test_calibration_folder_quantizes_once_and_auto_follows_the_agreement(
    probe, photos, tmp_path, avx2, monkeypatch
):
    """int8 on the probe (a model that really classifies the photos), calibrated on 24 crops of them; a second
    task reuses the cached model; auto takes it only while its recorded agreement is >= 99%."""
    from infer_torchvision_resnext.int8 import calibration as int8_calibration
    from infer_torchvision_resnext.task import InferTorchvisionResnext

    path, crops, labels = probe
    folder = _save_crops(tmp_path / "cal", crops[::10][:24])
    int8 = InferTorchvisionResnext(
        {"model_weight_file": str(path), "precision": "int8", "calibration_folder": str(folder)}
    )
    fp32 = InferTorchvisionResnext(
        {"model_weight_file": str(path), "precision": "fp32", "backend": "openvino"}
    )
    assert int8.load_model().runtime.precision == "int8"
    held_out = crops[5::10][:40]
    ours = [o["classification"].top.index for o in int8.run_batch([{"image": im} for im in held_out])]
    ref = [o["classification"].top.index for o in fp32.run_batch([{"image": im} for im in held_out])]
    agreement = float(np.mean(np.array(ours) == np.array(ref)))
    print(f"\nINT8 vs fp32 top-1 agreement on {len(held_out)} held-out probe crops: {agreement:.3f}")
    assert agreement >= 0.9

    monkeypatch.setattr(int8_calibration, "quantize_model", lambda *a, **k: pytest.fail("quantized again"))
    entry = next(int8_cache.int8_root().glob("*/*/int8.json"))
    for recorded, expected in ((0.995, "int8"), (0.9, "fp32")):
        meta = json.loads(entry.read_text())
        meta["check"]["top1_agreement"] = recorded
        entry.write_text(json.dumps(meta))
        auto = InferTorchvisionResnext({"model_weight_file": str(path), "calibration_folder": str(folder)})
        assert auto.load_model().runtime.precision == expected


def test_quantized_model_keeps_the_stem_convolution_fp32():
    """Every convolution but the first runs in INT8; the stem reads the normalised pixels with fp32
    weights."""
    import openvino as ov
    import openvino.opset13 as ops

    from infer_torchvision_resnext.int8.quantize import first_convolution, quantize_model

    rng = np.random.default_rng(1)
    x = ops.parameter([-1, 16, 16, 3], ov.Type.u8, name="image")
    f = ops.transpose(ops.convert(x, ov.Type.f32), ops.constant(np.array([0, 3, 1, 2])))
    f = ops.multiply(
        ops.subtract(f, ops.constant(np.full((1, 3, 1, 1), 120, np.float32))),  # mean/std in the graph
        ops.constant(np.full((1, 3, 1, 1), 1 / 58, np.float32)),
    )
    for cin, cout in ((3, 8), (8, 8)):
        w = ops.constant(rng.normal(0, 0.2, (cout, cin, 3, 3)).astype(np.float32))
        f = ops.relu(ops.convolution(f, w, [1, 1], [1, 1], [1, 1], [1, 1]))
    model = ov.Model([ops.reduce_mean(f, ops.constant(np.array([2, 3])), keep_dims=False)], [x])
    stem = first_convolution(model)
    crops = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(8)]
    quantized = quantize_model(model, crops)
    convs = [op for op in quantized.get_ordered_ops() if op.get_type_name() == "Convolution"]
    fed_by = [[op.input(i).get_source_output().get_node().get_type_name() for i in (0, 1)] for op in convs]
    assert convs[0].get_friendly_name() == stem
    # stem: fp32 activations (the normalising Multiply) and fp32 weights; then INT8 activations and
    # compressed INT8 weights (Constant -> Convert -> Multiply by the scale)
    assert fed_by == [["Multiply", "Constant"], ["FakeQuantize", "Multiply"]], fed_by

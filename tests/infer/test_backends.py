"""Runtime resolution, the torch backend, and the OpenVINO backend's cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infer_torchvision_resnext.backends import choice as backends
from infer_torchvision_resnext.backends.choice import resolve_runtime
from infer_torchvision_resnext.backends.protocol import Backend, Runtime
from infer_torchvision_resnext.backends.torch_backend import TorchBackend
from infer_torchvision_resnext.checkpoint.format import build_model, load_checkpoint
from infer_torchvision_resnext.classifier import softmax
from infer_torchvision_resnext.preprocess import normalize_nchw, preprocess_batch
from workflow.core import runtime as shared_runtime
from workflow.core.errors import ParamError, SetupError


@pytest.fixture
def machine(monkeypatch):
    """Pretend hardware: set('cuda', 'openvino', 'bf16') members switch features on."""

    def configure(*features):
        flags = frozenset({"avx2", "amx_bf16"} if "bf16" in features else {"avx2"})
        monkeypatch.setattr(shared_runtime, "cuda_available", lambda: "cuda" in features)
        monkeypatch.setattr(shared_runtime, "cpu_info", lambda: shared_runtime.CpuInfo("pretend CPU", flags))
        monkeypatch.setattr(backends, "openvino_available", lambda: "openvino" in features)

    return configure


@pytest.mark.parametrize(
    "features, expected",
    [
        (("openvino", "bf16"), Runtime("openvino", "cpu", "bf16")),
        (("openvino",), Runtime("openvino", "cpu", "fp32")),
        (("bf16",), Runtime("torch", "cpu", "bf16")),
        ((), Runtime("torch", "cpu", "fp32")),
        (("cuda", "openvino", "bf16"), Runtime("torch", "cuda", "fp16")),
    ],
)
def test_auto_choices(machine, features, expected):
    machine(*features)
    assert resolve_runtime() == expected


def test_auto_without_openvino_logs_one_line(machine, caplog):
    machine("bf16")
    backends._warn_no_openvino.cache_clear()
    with caplog.at_level("WARNING", logger="infer_torchvision_resnext.backends.choice"):
        resolve_runtime("cpu", "auto", "auto")
        resolve_runtime("auto", "auto", "auto")  # the second load says nothing new
    lines = [r.getMessage() for r in caplog.records if "openvino is not installed" in r.getMessage()]
    assert len(lines) == 1 and "cv-workflow[openvino]" in lines[0]


def test_explicit_choices_win(machine):
    machine("cuda", "openvino", "bf16")
    assert resolve_runtime("cpu", "fp32", "auto") == Runtime("openvino", "cpu", "fp32")
    assert resolve_runtime("auto", "auto", "openvino") == Runtime("openvino", "cpu", "bf16")
    assert resolve_runtime("cuda", "bf16", "torch") == Runtime("torch", "cuda", "bf16")


@pytest.mark.parametrize(
    "features, args, message",
    [
        ((), ("cuda", "auto", "auto"), r"parameter 'device' is 'cuda' but torch sees no CUDA GPU"),
        (
            ("cuda", "openvino"),
            ("cuda", "auto", "openvino"),
            r"parameter 'backend' is 'openvino', which runs on the CPU here",
        ),
        (
            (),
            ("cpu", "auto", "openvino"),
            r"parameter 'backend' is 'openvino' but the openvino package is not installed",
        ),
        (
            ("bf16",),
            ("cpu", "fp16", "torch"),
            r"parameter 'precision' is 'fp16', which the torch CPU path does not support",
        ),
    ],
)
def test_impossible_combinations_are_refused(machine, features, args, message):
    """Found when the model is built: a setup error (stops a run at once) that is still a ParamError."""
    machine(*features)
    with pytest.raises(SetupError, match=rf"^task 'clf': {message}") as info:
        resolve_runtime(*args, task_id="clf")
    assert isinstance(info.value, ParamError)


@pytest.mark.parametrize(
    "features", [(), ("bf16",), ("openvino",), ("openvino", "bf16"), ("cuda", "openvino", "bf16")]
)
@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_precision_auto_is_the_shared_runtime_decision(machine, features, device):
    """Inference resolves precision 'auto' exactly as workflow.core.runtime (training's resolver) does on this
    machine."""
    machine(*features)
    ours = resolve_runtime(device, "auto", "auto")
    shared = shared_runtime.resolve_runtime(device, "auto")
    assert (ours.device, ours.precision) == (shared.device, shared.precision)
    assert Runtime is shared_runtime.Runtime  # one type: the engine's, with the backend this plugin chose


def test_both_backends_implement_the_protocol(probe):
    ckpt = load_checkpoint(probe[0])
    backend = TorchBackend(
        build_model(ckpt), ckpt.manifest.preprocessing, Runtime("torch", "cpu", "fp32"), batch_size=4
    )
    assert isinstance(backend, Backend)  # runtime-checkable: every method of the protocol is there
    assert [backend.chunk_size(n) for n in (1, 3, 10)] == [1, 3, 4]
    assert backend.set_batch_size(2) and backend.chunk_size(10) == 2
    backend.close()
    assert backend.model is None


def test_softmax_rows_sum_to_one_and_keep_order():
    logits = np.array([[1000.0, 0.0, -5.0], [0.1, 0.2, 0.3]], np.float32)
    p = softmax(logits)
    assert p.dtype == np.float32 and np.allclose(p.sum(1), 1.0)
    assert p[0].argmax() == 0 and list(np.argsort(-p[1])) == [2, 1, 0]


def _reference_logits(model, batch, prep):
    with torch.inference_mode():
        return model.eval()(normalize_nchw(torch.from_numpy(batch), prep.mean, prep.std).contiguous()).numpy()


def test_torch_backend_fp32_matches_plain_eager(probe, photos):
    path, _, _ = probe
    ckpt = load_checkpoint(path)
    prep = ckpt.manifest.preprocessing
    batch = preprocess_batch([photos["chelsea"], photos["rocket"], photos["camera"]], prep)
    ref = _reference_logits(build_model(ckpt), batch, prep)
    ours = TorchBackend(build_model(load_checkpoint(path)), prep, Runtime("torch", "cpu", "fp32")).infer(
        batch
    )
    assert ours.shape == ref.shape == (3, len(ckpt.manifest.class_names)) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    bf16 = TorchBackend(build_model(load_checkpoint(path)), prep, Runtime("torch", "cpu", "bf16"))
    assert (bf16.infer(batch).argmax(1) == ref.argmax(1)).all()
    assert [len(x) for x in bf16.infer_batches([batch[:1], batch[1:]])] == [1, 2]


def _task_cache_key(path):
    """The OpenVINO cache key the task itself uses for this checkpoint (so task tests reuse the
    conversion)."""
    from infer_torchvision_resnext.model_source import resolve_source
    from infer_torchvision_resnext.params import InferResnextParams

    return resolve_source(InferResnextParams(model_weight_file=str(path)).classifier_config()).cache_key


needs_openvino = pytest.mark.skipif(not backends.openvino_available(), reason="openvino is not installed")


@needs_openvino
def test_openvino_backend_converts_once_then_reuses(probe, photos, monkeypatch, _openvino_cache):
    from infer_torchvision_resnext.backends import openvino_backend

    path, _, _ = probe
    ckpt = load_checkpoint(path)
    prep = ckpt.manifest.preprocessing
    key = _task_cache_key(path)
    batch = preprocess_batch([photos["chelsea"], photos["rocket"], photos["camera"]], prep)
    ref = _reference_logits(build_model(ckpt), batch, prep)
    openvino_backend.clear_memory_cache()
    before = dict(openvino_backend.stats)
    built = []

    def factory():
        built.append(1)
        return build_model(load_checkpoint(path))

    runtime = Runtime("openvino", "cpu", "fp32")
    first = openvino_backend.OpenVINOBackend(factory, prep, runtime, cache_key=key, num_classes=8)
    np.testing.assert_allclose(first.infer(batch), ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    ir = _openvino_cache / "openvino" / openvino_backend.model_key(key, prep, 8) / "model.xml"
    converted = len(built)  # 1, or 0 when an earlier test of this session already converted this checkpoint
    assert (
        ir.is_file()
        and converted <= 1
        and openvino_backend.stats["conversions"] - before["conversions"] == converted
    )
    second = openvino_backend.OpenVINOBackend(
        factory, prep, runtime, cache_key=key, num_classes=8
    )  # same process
    assert second.compiled is first.compiled and len(built) == converted
    assert openvino_backend.stats["memory_hits"] - before["memory_hits"] == 1
    openvino_backend.clear_memory_cache()  # as a new process would: read the IR, no conversion
    ir_loads = openvino_backend.stats["ir_loads"]
    third = openvino_backend.OpenVINOBackend(factory, prep, runtime, cache_key=key, num_classes=8)
    np.testing.assert_allclose(third.infer(batch), ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    assert len(built) == converted and openvino_backend.stats["ir_loads"] == ir_loads + 1


@needs_openvino
def test_openvino_batches_keep_order(probe, photos):
    from infer_torchvision_resnext.backends.openvino_backend import OpenVINOBackend

    path, crops, _ = probe
    ckpt = load_checkpoint(path)
    prep = ckpt.manifest.preprocessing
    batch = preprocess_batch(crops[:10], prep)
    backend = OpenVINOBackend(
        lambda: build_model(load_checkpoint(path)),
        prep,
        Runtime("openvino", "cpu", "fp32"),
        cache_key=_task_cache_key(path),
        num_classes=8,
    )
    whole = backend.infer(batch)
    parts = np.concatenate(list(backend.infer_batches([batch[:3], batch[3:4], batch[4:]])))
    np.testing.assert_allclose(parts, whole, rtol=1e-4, atol=1e-4)
    assert backend.chunk_size(8) == min(8, max(1, -(-8 // backend.num_requests)))
    assert backend.set_batch_size(2) and backend.chunk_size(100) == 2
    assert backend.set_batch_size(1) and backend.chunk_size(1) == 1  # each call picks its hint: no rebuild
    assert isinstance(backend, Backend)
    backend.close()


def _compiled_hint(backend, hint: str) -> str:
    mode = backend.modes.compiled()[hint]
    return str(mode.compiled.get_property("PERFORMANCE_HINT")).rsplit(".", 1)[-1]


@needs_openvino
@pytest.mark.parametrize("batch_size", [8, 1])
def test_openvino_hint_and_requests_fit_each_call_pattern(probe, photos, batch_size):
    """Folder batches and ROI calls keep every THROUGHPUT request busy; a single crop runs on LATENCY."""
    from infer_torchvision_resnext.backends._openvino_modes import LATENCY, THROUGHPUT, hint_for
    from infer_torchvision_resnext.task import InferTorchvisionResnext
    from workflow.core.results import DetectionsResult

    task = InferTorchvisionResnext(
        {
            "model_weight_file": str(probe[0]),
            "backend": "openvino",
            "precision": "fp32",
            "device": "cpu",
            "batch_size": batch_size,
        }
    )
    backend = task.load_model().backend
    image = photos["chelsea"]
    task.run_batch([{"image": image}])  # a single image
    assert backend.last_call == (LATENCY, 1, 1) and _compiled_hint(backend, LATENCY) == LATENCY
    requests = backend.modes.get(THROUGHPUT).requests
    assert _compiled_hint(backend, THROUGHPUT) == THROUGHPUT
    assert requests == int(
        backend.modes.get(THROUGHPUT).compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    )

    task.run_batch([{"image": image}] * 8)  # a folder batch of 8
    hint = hint_for(8, requests)
    used = backend.modes.get(hint).requests
    assert backend.last_call == (hint, used, -(-8 // min(batch_size, -(-8 // used))))
    assert backend.last_call[2] >= backend.last_call[1]  # at least one chunk per request in flight

    h, w = image.shape[:2]
    boxes = DetectionsResult(
        [(0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w, h)], ["a", "b", "c"], [1.0] * 3
    )
    task.run_batch([{"image": image, "detections": boxes}])  # ROI mode: the image and 3 boxes, 4 crops
    assert backend.last_call[0] == hint_for(4, requests) and backend.last_call[2] >= min(
        4, backend.last_call[1]
    )


@needs_openvino
def test_openvino_hint_pinned_by_the_user_config(probe, monkeypatch):
    from infer_torchvision_resnext.backends.openvino_backend import OpenVINOBackend

    monkeypatch.setenv("WORKFLOW_OPENVINO_CONFIG", "PERFORMANCE_HINT=LATENCY")
    ckpt = load_checkpoint(probe[0])
    prep = ckpt.manifest.preprocessing
    backend = OpenVINOBackend(
        lambda: build_model(load_checkpoint(probe[0])),
        prep,
        Runtime("openvino", "cpu", "fp32"),
        cache_key=_task_cache_key(probe[0]),
        num_classes=8,
    )
    backend.infer(preprocess_batch(probe[1][:8], prep))
    assert backend.last_call == ("LATENCY", 1, 1) and set(backend.modes.compiled()) == {"LATENCY"}
    backend.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_agrees_with_cpu_fp32(probe, photos):
    path, crops, _ = probe
    ckpt = load_checkpoint(path)
    prep = ckpt.manifest.preprocessing
    batch = preprocess_batch(crops[:32], prep)
    ref = TorchBackend(build_model(ckpt), prep, Runtime("torch", "cpu", "fp32")).infer(batch)
    gpu = TorchBackend(
        build_model(load_checkpoint(path)), prep, resolve_runtime("auto", "auto", "auto")
    ).infer(batch)
    assert gpu.dtype == np.float32 and (gpu.argmax(1) == ref.argmax(1)).mean() >= 0.99


def test_disk_cache_keeps_the_most_recent_entries(tmp_path):
    import os

    from infer_torchvision_resnext.disk_cache import prune

    for i in range(5):
        entry = tmp_path / f"key{i}"
        entry.mkdir()
        (entry / "model.xml").write_text("x")
        os.utime(entry, (1000 + i, 1000 + i))
    (tmp_path / "key9.tmp-1-2").mkdir()  # being written by another process: left alone
    os.utime(tmp_path / "key0", (5000, 5000))  # just used
    assert [p.name for p in prune(tmp_path, 3)] == ["key2", "key1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key0", "key3", "key4", "key9.tmp-1-2"]


@needs_openvino
def test_openvino_failure_while_preparing_a_batch_leaves_no_request_running(probe):
    from infer_torchvision_resnext.backends.openvino_backend import OpenVINOBackend

    path, crops, _ = probe
    prep = load_checkpoint(path).manifest.preprocessing
    backend = OpenVINOBackend(
        lambda: build_model(load_checkpoint(path)),
        prep,
        Runtime("openvino", "cpu", "fp32"),
        cache_key=_task_cache_key(path),
        num_classes=8,
    )
    batch = preprocess_batch(crops[:4], prep)

    def broken():
        yield batch
        raise ValueError("bad image")

    with pytest.raises(ValueError, match="bad image"):
        backend.infer_batches(broken())
    again = backend.infer_batches([batch[:2], batch[2:]])  # the next call sees only its own results
    np.testing.assert_allclose(np.concatenate(again), backend.infer(batch), rtol=1e-4, atol=1e-4)

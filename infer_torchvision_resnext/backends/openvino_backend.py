"""OpenVINO CPU backend: uint8 NHWC in, mean/std in the graph, async requests, cached conversion.

Converting a ResNeXt with ``openvino.convert_model`` takes seconds (tracing), so
the converted model (with its preprocessing) is saved as IR under a key made of
the weights' identity (file, size, modification time), crop size, mean/std and
the library versions; the ``CACHE_ENTRIES`` most recently used entries are kept.
A second run in the same process reuses the compiled model; a second process
reads the IR and compiles it (~0.1 s). Cache folder: ``$WORKFLOW_CACHE_DIR/openvino``
(default ``~/.cache/cv-workflow/openvino``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from infer_torchvision_resnext.backends._openvino_config import extra_config
from infer_torchvision_resnext.backends._openvino_modes import Modes
from infer_torchvision_resnext.backends.protocol import Runtime
from infer_torchvision_resnext.disk_cache import cache_root, prune, touch

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from infer_torchvision_resnext.recipe import Preprocessing

log = logging.getLogger(__name__)
_PRECISION_HINT = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_COMPILED: OrderedDict[str, object] = OrderedDict()  # in-process cache: key -> CompiledModel
_COMPILED_MAX = 4
CACHE_ENTRIES = 6  # converted models kept on disk
_LOCK = threading.Lock()
stats = {"conversions": 0, "ir_loads": 0, "memory_hits": 0}  # counters, for tests and logs


def model_key(cache_key: str, prep: Preprocessing, num_classes: int) -> str:
    """Hash naming one converted model: weights identity + input recipe + library versions."""
    import openvino
    import torch

    text = "|".join(
        map(
            str,
            (
                cache_key,
                prep.crop_size,
                prep.mean,
                prep.std,
                num_classes,
                openvino.__version__,
                torch.__version__,
            ),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _convert(model: torch.nn.Module, prep: Preprocessing):
    """torch model -> OpenVINO model taking uint8 NHWC (dynamic batch), normalised inside the graph."""
    import openvino as ov
    import torch
    from openvino import Layout, Type
    from openvino.preprocess import PrePostProcessor

    size = prep.crop_size
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracing warnings (deprecations) are not the user's concern
        ov_model = ov.convert_model(
            model.eval(),
            example_input=torch.zeros(1, 3, size, size),
            input=[ov.PartialShape([-1, 3, size, size])],
        )
    ppp = PrePostProcessor(ov_model)
    ppp.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC"))
    ppp.input().model().set_layout(Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(Type.f32).mean([m * 255.0 for m in prep.mean]).scale(
        [s * 255.0 for s in prep.std]
    )
    ppp.output().tensor().set_element_type(Type.f32)
    stats["conversions"] += 1
    return ppp.build()


def _load_or_convert(
    model_factory: Callable[[], torch.nn.Module], prep: Preprocessing, key: str | None, core
):
    """The OpenVINO model from the IR cache, converting (and saving) ``model_factory()`` on a miss."""
    import openvino as ov

    if key is None:
        return _convert(model_factory(), prep)
    folder = cache_root() / "openvino" / key
    xml = folder / "model.xml"
    if xml.is_file():
        try:
            ov_model = core.read_model(str(xml))
            stats["ir_loads"] += 1
            touch(folder)
            return ov_model
        except Exception as exc:  # a damaged cache entry is rebuilt, and said so
            log.warning("openvino cache entry %s unreadable (%s): converting again", folder, exc)
    ov_model = _convert(model_factory(), prep)
    tmp = folder.with_name(f"{key}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        ov.save_model(ov_model, str(tmp / "model.xml"), compress_to_fp16=False)
        if not folder.exists():
            os.replace(tmp, folder)  # atomic: readers see a complete entry or none
            prune(folder.parent, CACHE_ENTRIES, what="openvino cache")
    except OSError as exc:
        if not xml.is_file():  # losing a race to another process is fine; anything else is worth a line
            log.warning("openvino cache not written to %s: %s", folder, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ov_model


def compiled_model(
    model_factory: Callable[[], torch.nn.Module],
    prep: Preprocessing,
    precision: str,
    num_classes: int,
    cache_key: str | None,
    hint: str = "THROUGHPUT",
):
    """A CPU-compiled model, from the in-process cache, the IR cache, or a fresh conversion.

    Args:
        model_factory: builds the torch model; called only when the model must be converted.
        prep: crop size and mean/std (part of the graph).
        precision: fp32/bf16/fp16 -> INFERENCE_PRECISION_HINT.
        num_classes: head size (part of the cache key).
        cache_key: weights identity; None disables both caches.
        hint: OpenVINO PERFORMANCE_HINT (THROUGHPUT: parallel streams; LATENCY: one request, all cores).
    """
    import openvino as ov

    key = model_key(cache_key, prep, num_classes) if cache_key else None
    mem_key = f"{key}|{precision}|{hint}|{sorted(extra_config().items())}" if key else None
    with _LOCK:
        if mem_key and mem_key in _COMPILED:
            _COMPILED.move_to_end(mem_key)
            stats["memory_hits"] += 1
            return _COMPILED[mem_key]
        core = (
            ov.Core()
        )  # no CACHE_DIR: compiling from IR takes ~0.1 s, a blob cache would cost ~100 MB per variant
        ov_model = _load_or_convert(model_factory, prep, key, core)
        config = {
            "PERFORMANCE_HINT": hint,
            "INFERENCE_PRECISION_HINT": _PRECISION_HINT[precision],
            **extra_config(),
        }
        compiled = core.compile_model(ov_model, "CPU", config)
        if mem_key:
            _COMPILED[mem_key] = compiled
            while len(_COMPILED) > _COMPILED_MAX:
                _COMPILED.popitem(last=False)
        return compiled


def clear_memory_cache() -> None:
    """Forget compiled models held by this process (the disk cache stays)."""
    with _LOCK:
        _COMPILED.clear()


class OpenVINOBackend:
    """Runs a compiled model with an ``AsyncInferQueue`` so the caller can prepare the next chunk meanwhile;
    implements :class:`.protocol.Backend`. Each call runs on the hint that fits its size
    (:mod:`._openvino_modes`): one crop on a LATENCY-compiled model, more on THROUGHPUT with every request busy.

    Args:
        model_factory: zero-argument callable building the torch classifier (called only on a cache miss).
        prep: crop size and mean/std baked into the graph.
        runtime: resolved precision (``fp32``/``bf16``/``fp16`` -> the CPU's inference precision hint;
            ``int8``: the calibrated model ``runtime.model_file``).
        cache_key: identity of the weights (file + size + mtime, or torchvision weights name); None: no cache.
        batch_size: images per task batch, split over parallel requests (the hint for it is compiled at once).
        num_classes: head size (part of the cache key).
    """

    name = "openvino"

    def __init__(
        self,
        model_factory: Callable[[], torch.nn.Module],
        prep: Preprocessing,
        runtime: Runtime,
        cache_key: str | None = None,
        batch_size: int = 8,
        num_classes: int = -1,
    ):
        self.runtime = runtime
        self.prep = prep
        self.batch_size = batch_size
        self._results: dict[int, np.ndarray] = {}

        def compile_for(hint: str):
            if runtime.precision == "int8":
                return compiled_int8(Path(runtime.model_file), hint)
            return compiled_model(model_factory, prep, runtime.precision, num_classes, cache_key, hint)

        self.modes = Modes(compile_for, self._on_done, extra_config().get("PERFORMANCE_HINT"))
        self.last_call: tuple[str, int, int] | None = None  # (hint, requests, chunks) of the latest call
        self.modes.for_items(batch_size)

    @property
    def num_requests(self) -> int:
        """Parallel requests of the model that runs a full task batch."""
        return self.modes.for_items(self.batch_size).requests

    @property
    def compiled(self):
        """The compiled model that runs a full task batch."""
        return self.modes.for_items(self.batch_size).compiled

    def _on_done(self, request, job_id: int) -> None:
        self._results[job_id] = request.get_output_tensor(0).data.copy()

    def chunk_size(self, n_items: int) -> int:
        """Images per request for ``n_items``: one chunk per parallel request of the hint that fits
        ``n_items``,
        at most ``batch_size`` (4 images per request run ~10% faster than 2 here)."""
        return max(1, min(self.batch_size, -(-n_items // self.modes.for_items(n_items).requests)))

    def set_batch_size(self, n: int) -> bool:
        """Adapt to ``n`` images per task batch (always possible: each call picks its compiled hint)."""
        self.batch_size = int(n)
        return True

    def close(self) -> None:
        """Wait for requests still running, then drop the queues (the compiled models stay in the process
        cache)."""
        if self.modes is not None:
            self.modes.wait_all()
        self.modes = None

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, classes) float32 of a uint8 NHWC batch (split across the parallel requests)."""
        step = max(1, -(-len(batch) // self.modes.for_items(len(batch)).requests))
        return np.concatenate(
            self.infer_batches((batch[i : i + step] for i in range(0, len(batch), step)), len(batch))
        )

    def infer_batches(self, batches: Iterable[np.ndarray], n_items: int | None = None) -> list[np.ndarray]:
        """Logits of each batch, in order, on the hint that fits ``n_items`` crops in all (None: a task
        batch).
        Batches are pulled one by one, so a lazy iterable's next batch is prepared while the earlier ones run;
        every request has finished when this returns or raises."""
        mode = self.modes.for_items(self.batch_size if n_items is None else n_items)
        results: dict[int, np.ndarray] = {}
        self._results = results
        inputs: list[np.ndarray] = []  # zero-copy inputs must outlive their requests
        try:
            for batch in batches:
                inputs.append(np.ascontiguousarray(batch))
                # waits only when every request is busy
                mode.queue.start_async({0: inputs[-1]}, len(inputs) - 1, share_inputs=True)
        finally:
            mode.queue.wait_all()  # also when preparing a batch failed: no request may outlive this call
        self.last_call = (mode.hint, mode.requests, len(inputs))
        return [results.pop(i) for i in range(len(inputs))]


def fp32_model(
    model_factory: Callable[[], torch.nn.Module], prep: Preprocessing, num_classes: int, cache_key: str | None
):
    """The converted fp32 ``openvino.Model`` (uint8 NHWC in), from the IR cache or a fresh conversion (to
    quantize)."""
    import openvino as ov

    key = model_key(cache_key, prep, num_classes) if cache_key else None
    with _LOCK:
        return _load_or_convert(model_factory, prep, key, ov.Core())


def compile_for_check(ov_model):
    """``ov_model`` compiled for one request at a time (accuracy checks, not speed)."""
    import openvino as ov

    return ov.Core().compile_model(ov_model, "CPU", {"PERFORMANCE_HINT": "LATENCY", **extra_config()})


def compiled_int8(xml: Path, hint: str = "THROUGHPUT"):
    """The INT8 model saved at ``xml`` compiled for the CPU (kept in the in-process cache)."""
    import openvino as ov

    st = xml.stat()
    mem_key = f"int8|{xml.resolve()}|{st.st_mtime_ns}|{hint}|{sorted(extra_config().items())}"
    with _LOCK:
        if mem_key in _COMPILED:
            _COMPILED.move_to_end(mem_key)
            stats["memory_hits"] += 1
            return _COMPILED[mem_key]
        core = ov.Core()
        compiled = core.compile_model(
            core.read_model(str(xml)), "CPU", {"PERFORMANCE_HINT": hint, **extra_config()}
        )
        _COMPILED[mem_key] = compiled
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
        return compiled

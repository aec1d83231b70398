"""The ``infer_torchvision_resnext`` task: ResNeXt classification of images or of boxes in them (ROI mode)."""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from infer_torchvision_resnext.params import MODEL_PARAMS, InferResnextParams
from workflow.errors import WorkflowError
from workflow.ports import AnnotatedImage, Classification, Detections, Image, Model, Port
from workflow.results import ClassificationResult, ClassScore, DetectionsResult
from workflow.task import Task


class InferTorchvisionResnext(Task):
    """Classify images with a torchvision ResNeXt (pretrained ImageNet weights or a trained checkpoint).

    Outputs the top-k classes (``classification``) and the image annotated with the
    top label (``image``). With a ``detections`` input, each box is classified too
    ("ROI mode"): the ``detections`` output carries the boxes relabelled with their
    top class and their per-box top-k, drawn on the annotated image.
    The ``image`` input is an HxWx3 uint8 **RGB** array (convert OpenCV's BGR first:
    :func:`infer_torchvision_resnext.preprocess.as_rgb_image`).
    """

    name = "infer_torchvision_resnext"
    description = "ResNeXt image classification (torchvision weights or a trained checkpoint; OpenVINO/torch)"
    Params = InferResnextParams
    inputs = (
        Port("image", Image, description="HxWx3 uint8 RGB image"),
        Port("detections", Detections, optional=True, description="boxes to classify one by one (ROI mode)"),
        Port("model", Model, optional=True, description="checkpoint from training; overrides model_weight_file"),
    )
    outputs = (
        Port("classification", Classification, description="top-k classes of the whole image, best first"),
        Port("image", AnnotatedImage, description="the input with the top label, or boxes and labels in ROI mode"),
        Port("detections", Detections, optional=True, description="ROI mode only: the boxes with their top class and per-box top-k"),
    )

    def __init__(self, params: dict[str, Any] | None = None, task_id: str | None = None):
        super().__init__(params, task_id)
        self._loaded = None  # loader.LoadedModel, built on first use

    # -- model lifecycle ------------------------------------------------------
    def on_params_changed(self, changed: set[str]) -> None:
        """Model-affecting changes drop the loaded model (rebuilt on the next run); others keep it."""
        if changed & MODEL_PARAMS:
            self._loaded = None
        elif "batch_size" in changed and self._loaded is not None and self._loaded.runtime.backend == "openvino":
            if (self.params.batch_size == 1) != (self._loaded.backend.batch_size == 1):
                self._loaded = None  # OpenVINO compiles for latency at batch 1, for throughput above
            else:
                self._loaded.backend.batch_size = self.params.batch_size

    def load_model(self, model_path=None):
        """Load (or reuse) the model for the current parameters and ``model_path``; returns the loader record."""
        from infer_torchvision_resnext.loader import load_model, source_identity

        if self._loaded is not None and self._loaded.identity == source_identity(self.params, model_path):
            return self._loaded
        self._loaded = None
        self._loaded = load_model(self.params, model_path)
        return self._loaded

    @property
    def class_names(self) -> list[str]:
        """Class names of the loaded model (loads it if needed)."""
        return list(self.load_model().source.class_names)

    # -- engine hooks ---------------------------------------------------------
    def batch_hint(self) -> int | None:
        return self.params.batch_size

    def decode_hint(self, port: str) -> int | None:
        """Shorter side the preprocessing resizes to: sources may decode big JPEGs down to it."""
        if port != "image":
            return None
        if self._loaded is not None:
            return self._loaded.source.prep.resize_size
        try:
            if self.params.model_weight_file:
                return self.load_model().source.prep.resize_size
            from infer_torchvision_resnext.checkpoint import Preprocessing
            from infer_torchvision_resnext.models import resolve_weights

            weights = resolve_weights(self.params.model_name, self.params.pretrained_weights)
            return Preprocessing.from_weights(weights, self.params.input_size).resize_size
        except WorkflowError as exc:  # the same error is raised, with full context, when the task runs
            self.log.debug("decode_hint unavailable: %s", exc)
            return None

    # -- running --------------------------------------------------------------
    def run(self) -> None:
        item = {p.name: self._inputs[p.name] for p in self.inputs if p.name in self._inputs}
        self.get_input("image")  # a clear PortError when the image is missing
        for port, value in self._process([item])[0].items():
            self.set_output(port, value)

    def run_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Classify several items with ``batch_size`` crops per forward pass; keeps the last item's outputs."""
        if not items:
            return []
        for item in items:  # validate every item's ports before any work
            self.clear()
            for port, value in item.items():
                self.set_input(port, value)
            self.get_input("image")
        outs = self._process(items)
        for port, value in outs[-1].items():
            self.set_output(port, value)
        return outs

    def _process(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from infer_torchvision_resnext.annotate import draw_boxes, draw_labels

        model_path = next((it["model"] for it in items if it.get("model") is not None), None)
        loaded = self.load_model(model_path)
        jobs = _jobs(items)
        results = self._classify(loaded, [(img, box) for _, _, img, box in jobs if box is not False])
        per_item: list[dict[str, Any]] = [{} for _ in items]
        rois: list[list[ClassificationResult]] = [[] for _ in items]
        for i, b, _, box in jobs:
            res = ClassificationResult([]) if box is False else next(results)
            if b < 0:
                per_item[i]["classification"] = res
            else:
                rois[i].append(res)
        outs = []
        for item, out, roi in zip(items, per_item, rois):
            image, dets = item["image"], item.get("detections")
            if dets is None:
                top = out["classification"].top
                out["image"] = draw_labels(image, [f"{top.label} {top.score:.2f}"] if top else [])
            else:
                out["detections"] = _relabelled(dets, roi)
                texts = [f"{r.top.label} {r.top.score:.2f}" if r.top else "" for r in roi]
                out["image"] = draw_boxes(image, dets.boxes, texts)
            outs.append(out)
        return outs

    def _classify(self, loaded, crops: list[tuple[np.ndarray, Any]]) -> Iterator[ClassificationResult]:
        """Top-k of each (image, box) crop, preprocessing the next chunk while the backend runs the previous one."""
        from infer_torchvision_resnext.backends import softmax
        from infer_torchvision_resnext.preprocess import preprocess

        prep, backend, names = loaded.source.prep, loaded.backend, loaded.source.class_names
        size = self.params.batch_size
        if hasattr(backend, "chunk_size"):
            size = min(size, backend.chunk_size(len(crops)))

        def chunks():
            for start in range(0, len(crops), size):
                part = crops[start:start + size]
                out = np.empty((len(part), prep.crop_size, prep.crop_size, 3), np.uint8)
                for j, (img, box) in enumerate(part):
                    out[j] = preprocess(img if box is None else _crop(img, box), prep)
                yield out

        if not crops:
            return iter(())
        probs = softmax(np.concatenate(backend.infer_batches(chunks())))
        return iter(_top_k(probs, names, self.params.top_k))

    # -- results --------------------------------------------------------------
    def get_results(self):
        """Top-k :class:`ClassScore` list (float softmax, best first); in ROI mode the relabelled DetectionsResult."""
        dets = self.get_output("detections")
        if dets is not None:
            return dets
        cls = self.get_output("classification")
        return list(cls.classes) if cls is not None else []

    def get_image_with_graphics(self) -> np.ndarray | None:
        """The annotated image of the last run (RGB)."""
        return self.get_output("image")


def _jobs(items: list[dict[str, Any]]) -> list[tuple[int, int, np.ndarray, Any]]:
    """(item, box index or -1 for the whole image, image, box | None | False when the box is empty)."""
    jobs = []
    for i, item in enumerate(items):
        image = item["image"]
        jobs.append((i, -1, image, None))
        dets = item.get("detections")
        for b, box in enumerate(dets.boxes if dets is not None else ()):
            jobs.append((i, b, image, _clip(box, image.shape) or False))
    return jobs


def _clip(box, shape) -> tuple[int, int, int, int] | None:
    """Integer pixel box inside the image, or None when nothing of it is left."""
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    ix2, iy2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
    return (ix1, iy1, ix2, iy2) if ix2 > ix1 and iy2 > iy1 else None


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.ascontiguousarray(image[y1:y2, x1:x2])


def _top_k(probs: np.ndarray, names: list[str], k: int) -> list[ClassificationResult]:
    k = min(k, probs.shape[1])
    idx = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(probs, idx, axis=1).argsort(axis=1)[:, ::-1]
    idx = np.take_along_axis(idx, order, axis=1)
    return [ClassificationResult([ClassScore(names[j], int(j), float(row[j])) for j in ids]) for row, ids in zip(probs, idx)]


def _relabelled(dets: DetectionsResult, roi: list[ClassificationResult]) -> DetectionsResult:
    """A new DetectionsResult: same boxes, labels/scores from each box's top class (kept when the box is empty)."""
    labels = [r.top.label if r.top else (dets.labels[i] if i < len(dets.labels) else "") for i, r in enumerate(roi)]
    scores = [r.top.score if r.top else 0.0 for r in roi]
    return DetectionsResult(list(dets.boxes), labels, scores, roi)

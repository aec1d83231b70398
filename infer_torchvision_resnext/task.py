"""The ``infer_torchvision_resnext`` task: adapts ports to a :class:`~.classifier.Classifier`, in the port order
and with the classification accessors of Ikomia's classification tasks."""

from __future__ import annotations

from typing import Any

import numpy as np

from infer_torchvision_resnext.annotate import item_outputs
from infer_torchvision_resnext.classifier import Classifier
from infer_torchvision_resnext.model_source import source_identity
from infer_torchvision_resnext.params import MODEL_PARAMS, InferResnextParams
from workflow.core.ports import AnnotatedImage, Classification, Detections, Image, Model, Port
from workflow.core.results import ClassificationResult
from workflow.core.task import Task


class InferTorchvisionResnext(Task):
    """Classify images with a torchvision ResNeXt (pretrained ImageNet weights or a trained checkpoint).

    Ports follow Ikomia's classification tasks. Outputs: 0 ``original`` (the input image, unchanged, full
    size), 1 ``detections`` (ROI mode: the input boxes relabelled with their top class), 2 ``image`` (the
    input with the top label, or the boxes and labels, drawn on it) and 3 ``classification`` (top-k classes
    of the whole image). With a ``detections`` input each box is classified too ("ROI mode"). The ``image``
    input is HxWx3 uint8 **RGB** (see :func:`.preprocess.as_rgb_image` for BGR).
    """

    name = "infer_torchvision_resnext"
    description = "ResNeXt image classification (torchvision weights or a trained checkpoint; OpenVINO/torch)"
    Params = InferResnextParams
    request_params = frozenset({"top_k"})  # what one `workflow serve` request may change (no model rebuild)
    inputs = (
        Port("image", Image, description="HxWx3 uint8 RGB image"),
        Port("detections", Detections, optional=True, description="boxes to classify one by one (ROI mode)"),
        Port(
            "model", Model, optional=True, description="checkpoint from training; overrides model_weight_file"
        ),
    )
    outputs = (
        Port("original", Image, description="the input image, unchanged and at full size", forwards="image"),
        Port(
            "detections",
            Detections,
            optional=True,
            description="ROI mode only: the boxes with their top class and per-box top-k",
        ),
        Port(
            "image",
            AnnotatedImage,
            description="the input with the top label, or boxes and labels in ROI mode (input size)",
        ),
        Port("classification", Classification, description="top-k classes of the whole image, best first"),
    )

    _classifier: Classifier | None = None  # built on first use, per instance
    _probabilities: np.ndarray | None = None  # every class's probability for the last image (whole image)

    def on_params_changed(self, changed: set[str]) -> None:
        """Model-affecting changes drop the classifier (rebuilt on next use); a new batch_size adapts it."""
        if changed & MODEL_PARAMS:
            self._classifier = None
        elif "batch_size" in changed and self._classifier is not None:
            self._classifier.set_batch_size(self.params.batch_size)

    def prepare(self, inputs: dict[str, Any]) -> None:
        """Build the classifier once per run, before any image is decoded (``inputs``: e.g. ``{"model":
        path}``)."""
        self.load_model(inputs.get("model"))

    def load_model(self, model_path=None) -> Classifier:
        """The classifier for the current parameters and ``model_path``, reused while its files are
        unchanged."""
        config = self.params.classifier_config()
        if self._classifier is None or self._classifier.identity != source_identity(config, model_path):
            self._classifier = None
            self._classifier = Classifier.from_config(config, model_path, task_id=self.id)
        return self._classifier

    @property
    def class_names(self) -> list[str]:
        """Class names of the model in use (builds it from the parameters and the ``model`` input if needed)."""
        return self.get_names()

    def batch_hint(self) -> int | None:
        return self.params.batch_size  # items per run_batch call in folder runs

    def decode_hint(self, port: str) -> int | None:
        """The prepared classifier's resize size on ``image``: a folder run that saves no image may decode
        big JPEGs down to it (its items' ports are seen by nobody); else None."""
        return self._classifier.preprocessing.resize_size if port == "image" and self._classifier else None

    def clear(self) -> None:
        super().clear()
        self._probabilities = None

    def run(self) -> None:
        self.run_batch([dict(self.port_values("input"))])

    def run_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Classify several items with ``batch_size`` crops per forward pass; keeps the last item's
        outputs."""
        for (
            item
        ) in items:  # validate every item's ports (a clear PortError for a missing image) before any work
            self.clear()
            for port, value in item.items():
                self.set_input(port, value)
            self.get_input("image").data  # noqa: B018 -- raises PortError naming the task when it is empty
        outs = self._process(items) if items else []
        for port, value in (outs[-1] if outs else {}).items():
            self.set_output(port, value)
        return outs

    def _process(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        model_path = next((it["model"] for it in items if it.get("model") is not None), None)
        dets = [it.get("detections") for it in items]
        images = [it["image"] for it in items]
        boxes = [d.boxes if d is not None else None for d in dets]
        found = self.load_model(model_path).classify(images, boxes, self.params.top_k)
        self._probabilities = found[-1].probabilities if found else None
        return [
            item_outputs(image, det, res, self.params.annotated_min_side)
            for image, det, res in zip(images, dets, found)
        ]

    # -- results, as our API and as Ikomia's CClassificationTask gives them --------------------------------
    def get_results(self):
        """The last run's top-k :class:`~workflow.core.results.ClassificationResult` (float softmax scores,
        best first; ``to_json()``, ``json.dumps``; empty before a run); in ROI mode the relabelled
        DetectionsResult."""
        detections = self.get_output("detections").data
        if detections is not None:
            return detections
        classes = self.get_output("classification").data
        return classes if classes is not None else ClassificationResult()  # before a run: nothing, as a list

    def get_names(self) -> list[str]:
        """The model's class names, in head order (Ikomia's ``get_names()``)."""
        if self._classifier is None:
            self.load_model(self.port_values("input").get("model"))
        return self._classifier.class_names

    def get_whole_image_results(self) -> list[tuple[str, str]]:
        """Every class of the last image as ``(name, confidence)`` pairs, best first, the confidence as a
        string (Ikomia's ``get_whole_image_results()``); ``[]`` before a run."""
        probs = self._probabilities
        if probs is None:
            return []
        names = self._classifier.class_names
        order = np.argsort(-probs, kind="stable")
        return [(names[i], str(float(probs[i]))) for i in order]

    def get_objects_results(self):
        """The ROI-mode results (Ikomia's ``get_objects_results()``): output 1, an ObjectDetectionIO with one
        object per input box, in order, labelled with its top class and that class's probability."""
        return self.get_output("detections")

    def is_whole_image_classification(self) -> bool:
        """True when no boxes came on the ``detections`` input (Ikomia's call)."""
        return not self.get_input("detections").is_data_available()

    def get_image_with_graphics(self) -> Any:
        """The last image with its label (or boxes and labels) drawn on it, at the input size."""
        return self.get_output("image").data

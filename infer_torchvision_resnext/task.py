"""The ``infer_torchvision_resnext`` task: adapts ports to a :class:`~.classifier.Classifier`."""

from __future__ import annotations

from typing import Any

from infer_torchvision_resnext.annotate import item_outputs
from infer_torchvision_resnext.classifier import Classifier
from infer_torchvision_resnext.model_source import source_identity
from infer_torchvision_resnext.params import MODEL_PARAMS, InferResnextParams
from workflow.core.ports import AnnotatedImage, Classification, Detections, Image, Model, Port
from workflow.core.task import Task


class InferTorchvisionResnext(Task):
    """Classify images with a torchvision ResNeXt (pretrained ImageNet weights or a trained checkpoint).

    Outputs the top-k classes (``classification``) and the image annotated with the top label
    (``image``). With a ``detections`` input each box is classified too ("ROI mode"): the
    ``detections`` output carries the boxes relabelled with their top class and per-box top-k.
    The ``image`` input is HxWx3 uint8 **RGB** (see :func:`.preprocess.as_rgb_image` for BGR).
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
        Port("classification", Classification, description="top-k classes of the whole image, best first"),
        Port(
            "image",
            AnnotatedImage,
            description="the input with the top label, or boxes and labels in ROI mode",
        ),
        Port(
            "detections",
            Detections,
            optional=True,
            description="ROI mode only: the boxes with their top class and per-box top-k",
        ),
    )

    _classifier: Classifier | None = None  # built on first use, per instance

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

    class_names = property(
        lambda self: self.load_model().class_names, doc="Class names of the model (builds it if needed)."
    )

    def batch_hint(self) -> int | None:
        return self.params.batch_size  # items per run_batch call in folder runs

    def decode_hint(self, port: str) -> int | None:
        """The prepared classifier's resize size on ``image`` (sources may decode big JPEGs down to it), else
        None."""
        return self._classifier.preprocessing.resize_size if port == "image" and self._classifier else None

    def run(self) -> None:
        self.run_batch([dict(self._inputs)])

    def run_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Classify several items with ``batch_size`` crops per forward pass; keeps the last item's
        outputs."""
        for (
            item
        ) in items:  # validate every item's ports (a clear PortError for a missing image) before any work
            self.clear()
            for port, value in item.items():
                self.set_input(port, value)
            self.get_input("image")
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
        return [
            item_outputs(image, det, res, self.params.annotated_min_side)
            for image, det, res in zip(images, dets, found)
        ]

    def get_results(self):
        """Top-k :class:`ClassScore` list (float softmax, best first); in ROI mode the relabelled
        DetectionsResult."""
        dets = self.get_output("detections")
        if dets is not None:
            return dets
        cls = self.get_output("classification")
        return list(cls.classes) if cls is not None else []

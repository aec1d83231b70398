"""Tiny tasks used by the engine tests (no torch)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import AliasChoices, Field

from workflow import Port, Task, TaskParams
from workflow.core import ports
from workflow.core.results import ClassificationResult, ClassScore
from workflow.plugins.registry import Registry


class InvertParams(TaskParams):
    amount: int = Field(255, ge=0, le=255, description="value subtracted from")
    scale: float = Field(1.0, gt=0)
    enabled: bool = True
    mode: Literal["full", "half"] = "full"
    note: str | None = None
    weight_file: str | None = Field(None, validation_alias=AliasChoices("weight_file", "model_path"))


class Invert(Task):
    name = "invert"
    Params = InvertParams
    inputs = (Port("image", ports.Image),)
    outputs = (Port("image", ports.AnnotatedImage),)

    def run(self) -> None:
        self.set_output("image", (self.params.amount - self.get_input("image").data).astype(np.uint8))


class MeanClassifier(Task):
    """Classifies an image as 'dark' or 'bright' from its mean value."""

    name = "mean_classifier"
    inputs = (Port("image", ports.Image), Port("model", ports.Model, optional=True))
    outputs = (Port("classification", ports.Classification),)

    def run(self) -> None:
        mean = float(self.get_input("image").data.mean()) / 255.0
        scores = [ClassScore("bright", 1, mean), ClassScore("dark", 0, 1 - mean)]
        self.set_output("classification", ClassificationResult(sorted(scores, key=lambda c: -c.score)))


class MakeModel(Task):
    """Pretends to train: outputs a model path. Counts its runs."""

    name = "make_model"
    outputs = (Port("model", ports.Model), Port("metrics", ports.Table))
    runs = 0
    seen_output_dir = None  # the run context's output folder, as the last run saw it

    def run(self) -> None:
        type(self).runs += 1
        type(self).seen_output_dir = self.context.output_dir
        self.set_output("model", "model.pt")
        self.set_output("metrics", [{"epoch": 1}])


class Fail(Task):
    """Raises on images whose first pixel is 13."""

    name = "fail_on_13"
    inputs = (Port("image", ports.Image),)
    outputs = (Port("image", ports.Image),)

    def run(self) -> None:
        img = self.get_input("image").data
        if img[0, 0, 0] == 13:
            raise ValueError("pixel 13 is unlucky")
        self.set_output("image", img)


def make_registry() -> Registry:
    reg = Registry(use_entry_points=False, plugin_path="")
    for cls in (Invert, MeanClassifier, MakeModel, Fail):
        reg.register(cls)
    return reg

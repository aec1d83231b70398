"""A light task for the server tests: 'classifies' an image by its dominant colour (no torch)."""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

from workflow import Port, Task, TaskParams
from workflow.core.ports import AnnotatedImage, Classification, Image
from workflow.core.results import ClassificationResult, ClassScore

COLOURS = ("red", "green", "blue")


class ColourParams(TaskParams):
    top_k: int = Field(3, ge=1, le=3, description="classes returned")
    delay_s: float = Field(0.0, ge=0, le=10, description="sleep per batch (simulates a model call)")
    warmup_fail: bool = Field(False, description="fail on the warm-up image (start-up error test)")


class DominantColour(Task):
    """Scores red/green/blue by their share of the image; a pure magenta image is 'poison' and fails."""

    name = "serve_dominant_colour"
    Params = ColourParams
    request_params = frozenset({"top_k"})
    inputs = (Port("image", Image),)
    outputs = (Port("classification", Classification), Port("image", AnnotatedImage))
    batch_sizes: list[int] = []

    def run_batch(self, items):
        type(self).batch_sizes.append(len(items))
        if self.params.delay_s:
            time.sleep(self.params.delay_s)
        return super().run_batch(items)

    def run(self) -> None:
        image = self.get_input("image").data
        means = image.reshape(-1, 3).mean(axis=0).astype(np.float64)
        if self.params.warmup_fail and image.shape[:2] == (64, 64):
            raise RuntimeError("refusing the warm-up image")
        if means[0] > 250 and means[2] > 250 and means[1] < 5:
            raise ValueError("poison image (pure magenta)")
        share = (means + 1e-6) / (means + 1e-6).sum()
        order = np.argsort(-share)[: self.params.top_k]
        self.set_output(
            "classification",
            ClassificationResult([ClassScore(COLOURS[i], int(i), float(share[i])) for i in order]),
        )
        self.set_output("image", image.copy())

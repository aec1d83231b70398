"""A plugin-folder task: put this folder on WORKFLOW_PLUGIN_PATH and `grayscale` is registered.

    WORKFLOW_PLUGIN_PATH=examples/plugins workflow describe grayscale

Every Task subclass with a ``name`` defined in a module of the folder is registered.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from workflow import Port, Task, TaskParams
from workflow.core.ports import Image

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


class GrayscaleParams(TaskParams):
    method: Literal["luma", "mean"] = Field(
        "luma", description="BT.601 luma weights, or the plain channel mean"
    )


class Grayscale(Task):
    """Convert an image to gray (kept as 3 equal channels, so any image task can follow)."""

    name = "grayscale"
    Params = GrayscaleParams
    inputs = (Port("image", Image),)
    outputs = (Port("image", Image, description="gray image, HxWx3"),)

    def run(self) -> None:
        image = self.get_input("image").get_image().astype(np.float32)
        gray = image @ _LUMA if self.params.method == "luma" else image.mean(axis=2)
        self.set_output(
            "image", np.repeat(np.clip(gray + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        )

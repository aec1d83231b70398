"""``blur_image``: Gaussian, box or median blur of an image (OpenCV, imported when the task runs)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from workflow import Port, Task, TaskParams
from workflow.core.ports import Image


class BlurParams(TaskParams):
    kernel: Literal["gaussian", "box", "median"] = Field("gaussian", description="blur filter")
    radius: int = Field(
        2,
        ge=1,
        le=50,
        description="filter radius in pixels (kernel size 2*radius+1)",
        validation_alias=AliasChoices("radius", "kernel_radius"),
    )


class BlurImage(Task):
    """Blur an image with a Gaussian, box or median filter."""

    name = "blur_image"
    description = "Blur an image with a Gaussian, box or median filter."
    Params = BlurParams
    inputs = (Port("image", Image, description="image to blur"),)
    outputs = (Port("image", Image, description="blurred image, same size"),)

    def run(self) -> None:
        import cv2

        image = self.get_input("image").get_image()
        size = 2 * self.params.radius + 1
        if self.params.kernel == "gaussian":
            out = cv2.GaussianBlur(image, (size, size), 0)
        elif self.params.kernel == "box":
            out = cv2.blur(image, (size, size))
        else:
            out = cv2.medianBlur(image, size)
        self.set_output("image", out)

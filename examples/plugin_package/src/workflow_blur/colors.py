"""``dominant_color``: a Classification-producing task (red / green / blue share of the image), numpy only."""

from __future__ import annotations

from pydantic import Field

from workflow import Port, Task, TaskParams
from workflow.core.ports import Classification, Image
from workflow.core.results import ClassificationResult, ClassScore

COLORS = ("red", "green", "blue")


class DominantColorParams(TaskParams):
    top_k: int = Field(3, ge=1, le=3, description="how many colours to return, best first")


class DominantColor(Task):
    """Classify an image by its dominant colour channel; the score is the channel's share of the
    brightness."""

    name = "dominant_color"
    description = "Which of red, green, blue dominates the image (scores sum to 1)."
    Params = DominantColorParams
    inputs = (Port("image", Image, description="HxWx3 uint8 RGB image"),)
    outputs = (Port("classification", Classification, description="colours with their share, best first"),)

    def run(self) -> None:
        means = self.get_input("image").get_image().reshape(-1, 3).mean(axis=0)
        shares = means / means.sum() if means.sum() > 0 else means + 1 / 3
        scores = sorted(
            (ClassScore(COLORS[i], i, float(shares[i])) for i in range(3)), key=lambda c: -c.score
        )
        # a ClassificationResult, best first; a plain list of ClassScore or (label, score) pairs is accepted
        # too
        self.set_output("classification", ClassificationResult(scores[: self.params.top_k]))

    def get_results(self) -> ClassificationResult:
        """The top-k ClassScore list, as ``infer_torchvision_resnext`` returns it (empty before a run)."""
        return self.get_output("classification").data or ClassificationResult()

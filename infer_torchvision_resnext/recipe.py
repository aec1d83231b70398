"""The preprocessing recipe of a model: resize, centre crop, interpolation, mean/std.

This module imports nothing from its package (like timm's ``PretrainedCfg``), so every
layer (models, checkpoint format, backends, training's loaders) can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclass(frozen=True)
class Preprocessing:
    """How images are prepared for a model: resize shorter side, center crop, normalise.

    Attributes:
        crop_size: side of the square the model sees.
        resize_size: shorter side after resizing, before the crop.
        interpolation: "bilinear", "bicubic" or "nearest".
        mean, std: per-channel normalisation of 0..1 RGB values.
    """

    crop_size: int
    resize_size: int
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self):
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {self.interpolation!r}"
            )
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        object.__setattr__(self, "crop_size", int(self.crop_size))
        object.__setattr__(self, "resize_size", int(self.resize_size))

    @classmethod
    def default(cls, crop_size: int = 224) -> Preprocessing:
        """ImageNet mean/std, resize = crop * 256/224, bilinear (torchvision's V1 recipe)."""
        return cls(crop_size, round(crop_size * 256 / 224))

    @classmethod
    def from_weights(cls, weights, crop_size: int | None = None) -> Preprocessing:
        """The recipe of torchvision ``weights`` (duck-typed: anything with ``transforms()``), rescaled to
        ``crop_size``."""
        t = weights.transforms()
        w_crop, w_resize = int(t.crop_size[0]), int(t.resize_size[0])
        crop = int(crop_size or w_crop)
        interp = getattr(t.interpolation, "value", str(t.interpolation)).lower()
        return cls(crop, round(w_resize * crop / w_crop), interp, tuple(t.mean), tuple(t.std))

    def with_crop_size(self, crop_size: int) -> Preprocessing:
        """The same recipe at another crop size (resize keeps its ratio to the crop)."""
        if int(crop_size) == self.crop_size:
            return self
        return Preprocessing(
            crop_size,
            round(self.resize_size * int(crop_size) / self.crop_size),
            self.interpolation,
            self.mean,
            self.std,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (as stored in a checkpoint's manifest)."""
        return {
            "crop_size": self.crop_size,
            "resize_size": self.resize_size,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """The recipe :meth:`to_dict` wrote (mean/std/interpolation default to ImageNet's bilinear)."""
        return cls(
            int(data["crop_size"]),
            int(data["resize_size"]),
            str(data.get("interpolation", "bilinear")),
            tuple(data.get("mean", IMAGENET_MEAN)),
            tuple(data.get("std", IMAGENET_STD)),
        )


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "INTERPOLATIONS", "Preprocessing"]

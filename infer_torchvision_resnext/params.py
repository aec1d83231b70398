"""Parameters of the ``infer_torchvision_resnext`` task (Ikomia-compatible names, typed, strings accepted), and
the typed :class:`ClassifierConfig` the task hands its core (:meth:`InferResnextParams.classifier_config`).

A parameter whose change rebuilds the model is declared ``Rebuilds[type]`` (``Annotated[type,
REBUILDS_MODEL]``) and :data:`MODEL_PARAMS` is derived from those marks; ``batch_size`` only changes
how batches are split, ``top_k`` and ``annotated_min_side`` only what is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from pydantic import AliasChoices, Field, field_validator, model_validator

from workflow.core.params import TaskParams, path_field


class _RebuildsModel:
    """The mark of a parameter whose change rebuilds the model (``Annotated[type, REBUILDS_MODEL]``)."""

    def __repr__(self) -> str:
        return "REBUILDS_MODEL"


REBUILDS_MODEL = _RebuildsModel()
T = TypeVar("T")
Rebuilds = Annotated[T, REBUILDS_MODEL]
_CUDA_FLAGS = {
    "true": "cuda",
    "1": "cuda",
    "yes": "cuda",
    "on": "cuda",
    "false": "cpu",
    "0": "cpu",
    "no": "cpu",
    "off": "cpu",
}
_FULL_NAMES = {"resnext50_32x4d": "resnext50", "resnext101_32x8d": "resnext101"}
DEFAULT_INPUT_SIZE = 224  # Ikomia's default; at this value a checkpoint keeps its own size


class InferResnextParams(TaskParams):
    """Model choice, weights, preprocessing size, runtime and output size of the classifier."""

    model_name: Rebuilds[Literal["resnext50", "resnext101", "resnext101_64x4d"]] = Field(
        "resnext50",
        description="resnext50 (resnext50_32x4d), resnext101 (resnext101_32x8d) or resnext101_64x4d",
    )
    input_size: Rebuilds[int | None] = Field(
        DEFAULT_INPUT_SIZE,
        ge=16,
        le=2048,
        description="side of the centre crop the model sees (Ikomia's 224); a checkpoint of "
        "train_torchvision_resnext is read at its own size unless this is set to another value than 224 "
        "(empty: the weights' or checkpoint's own size); the resize size follows the weights' ratio (232/224)",
    )
    pretrained_weights: Rebuilds[Literal["DEFAULT", "IMAGENET1K_V1", "IMAGENET1K_V2"]] = Field(
        "DEFAULT",
        description="torchvision weights when no model_weight_file is given; DEFAULT: torchvision's default "
        "(V2), or the IMAGENET1K_V1 file (Ikomia's) when only that one is cached; V2 is not offered for "
        "resnext101_64x4d",
    )
    model_weight_file: Rebuilds[str | None] = path_field(
        None,
        validation_alias=AliasChoices("model_weight_file", "model_path"),
        description="weights file (Ikomia's model_path or model_weight_file): a checkpoint written by "
        "train_torchvision_resnext, or a plain state dict such as its <model_name>.pth (with class_file)",
    )
    class_file: Rebuilds[str | None] = path_field(
        None, description="class names, one per line (overrides the checkpoint's; empty: none)"
    )
    top_k: int = Field(5, ge=1, description="how many classes get_results() returns, best first")
    device: Rebuilds[Literal["auto", "cpu", "cuda"]] = Field(
        "auto",
        validation_alias=AliasChoices("device", "cuda"),
        description="auto: cuda when available, else cpu; Ikomia's cuda: true/false means device cuda/cpu",
    )
    precision: Rebuilds[Literal["auto", "fp32", "bf16", "fp16", "int8"]] = Field(
        "auto",
        description="auto: fp16 on CUDA; on the CPU bf16 with AMX/AVX512-BF16, else int8 where a calibrated "
        "INT8 model of these weights agrees with fp32 on >= 99% of top-1, else fp32; int8: OpenVINO + NNCF, needs "
        "the INT8 model training writes next to best.pt or a calibration_folder",
    )
    calibration_folder: Rebuilds[str | None] = path_field(
        None,
        description="images like the ones to classify (a few hundred; up to 400 are used) to calibrate an INT8 "
        "model of these weights; cached by weights hash, preprocessing and images",
    )
    backend: Rebuilds[Literal["auto", "torch", "openvino"]] = Field(
        "auto", description="auto: OpenVINO on CPU when installed, else torch"
    )
    batch_size: int = Field(8, ge=1, le=1024, description="images per forward pass in folder/video runs")
    dataset: Rebuilds[Literal["ImageNet", "Custom"] | None] = Field(
        None,
        description="Ikomia's choice of weights: ImageNet (pretrained_weights) or Custom (model_weight_file + "
        "class_file, or the model input); empty: Custom when a weight file or model input is given",
    )
    annotated_min_side: int = Field(
        0,
        ge=0,
        le=4096,
        description="enlarge the annotated image (whole factor, nearest neighbour) until its shorter "
        "side reaches this, so labels stay readable on thumbnails; 0 keeps the input size",
    )

    def classifier_config(self) -> ClassifierConfig:
        """These parameters as the classifier's typed configuration."""
        return ClassifierConfig(
            model_name=self.model_name,
            model_name_explicit="model_name" in self.model_fields_set,
            input_size=None if self.input_size == DEFAULT_INPUT_SIZE else self.input_size,
            pretrained_weights=self.pretrained_weights,
            model_weight_file=self.model_weight_file,
            class_file=self.class_file,
            device=self.device,
            precision=self.precision,
            backend=self.backend,
            dataset=self.dataset,
            calibration_folder=self.calibration_folder,
            batch_size=self.batch_size,
            top_k=self.top_k,
        )

    @field_validator("model_name", mode="before")
    @classmethod
    def _short_model_name(cls, value):
        if isinstance(value, str):
            value = value.strip().lower()
            return _FULL_NAMES.get(value, value)
        return value

    @field_validator("pretrained_weights", mode="before")
    @classmethod
    def _upper_weights(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("device", mode="before")
    @classmethod
    def _device_or_cuda_flag(cls, value):
        """Ikomia's ``cuda`` flag arrives here too: true -> cuda, false -> cpu."""
        if isinstance(value, bool):
            return "cuda" if value else "cpu"
        if isinstance(value, str):
            value = value.strip().lower()
            return _CUDA_FLAGS.get(value, value)
        return value

    @field_validator("precision", "backend", mode="before")
    @classmethod
    def _lower_choice(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset_name(cls, value):
        if isinstance(value, str):
            return {"imagenet": "ImageNet", "custom": "Custom"}.get(value.strip().lower(), value)
        return value

    @model_validator(mode="after")
    def _imagenet_has_no_weight_file(self):
        if self.dataset == "ImageNet" and self.model_weight_file:
            raise ValueError(
                f"dataset 'ImageNet' uses the pretrained weights, but model_weight_file is "
                f"'{self.model_weight_file}': set dataset to Custom, or leave it out"
            )
        return self

    @field_validator("model_weight_file", "class_file", "calibration_folder", mode="before")
    @classmethod
    def _path_to_str(cls, value):
        return os.fspath(value) if isinstance(value, os.PathLike) else value


MODEL_PARAMS = frozenset(
    name for name, info in InferResnextParams.model_fields.items() if REBUILDS_MODEL in info.metadata
)


@dataclass(frozen=True)
class ClassifierConfig:
    """What the classifier reads of the task's parameters, validated and typed (see :class:`InferResnextParams`
    for each field's meaning); ``model_name_explicit``: the user set ``model_name``, so a checkpoint of another
    architecture is an error rather than followed."""

    model_name: str
    model_name_explicit: bool
    input_size: int | None
    pretrained_weights: str
    model_weight_file: str | None
    class_file: str | None
    device: str
    precision: str
    backend: str
    dataset: str | None
    calibration_folder: str | None
    batch_size: int
    top_k: int

"""Typed parameters of the ``train_torchvision_resnext`` task.

Ikomia's hub plugin's parameters keep their names and defaults (model_name, batch_size 8, epochs 15,
learning_rate 0.001, momentum 0.9, weight_decay 1e-4, input_size 224, num_workers 0, use_pretrained,
feature_extract, export_pth, export_onnx, output_folder); the others are ours.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from workflow.core.params import TaskParams, path_field

MAX_WORKERS = (
    64  # data-loading processes; more than the machine has CPUs is cut down at run time (see trainer)
)

ModelName = Literal["resnext50", "resnext101", "resnext101_64x4d", "resnext50_32x4d", "resnext101_32x8d"]


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class TrainParams(TaskParams):
    """Everything a training run depends on; written to ``params.yaml`` in the run folder."""

    model_name: ModelName = Field("resnext50", description="ResNeXt variant (short or torchvision name)")
    dataset_folder: str | None = path_field(
        None,
        validation_alias=_alias("dataset_folder", "dataset_path"),
        description="image folder (train/ + val/, or one <class>/ tree); "
        "used when the dataset input is empty",
    )
    val_split: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="fraction of each class held out for validation when the dataset has no val/ folder",
    )
    epochs: int = Field(15, ge=1, le=100_000, description="number of passes over the training images")
    batch_size: int = Field(8, ge=1, le=65_536, description="images per step and per process")
    learning_rate: float = Field(
        0.001, gt=0, le=10, validation_alias=_alias("learning_rate", "lr"), description="peak learning rate"
    )
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (AdamW: beta1)")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="weight decay")
    optimizer: Literal["sgd", "adamw"] = Field("sgd", description="optimizer")
    scheduler: Literal["cosine", "step", "none"] = Field(
        "cosine", description="cosine: linear warmup then cosine decay; step: x0.1 at 1/3 and 2/3 of the run"
    )
    warmup_epochs: float = Field(1.0, ge=0, le=100_000, description="linear warmup length (cosine scheduler)")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="cross-entropy label smoothing")
    input_size: int = Field(224, ge=16, le=1024, description="side of the square crop the model sees")
    use_pretrained: bool = Field(
        True,
        validation_alias=_alias("use_pretrained", "pretrained"),
        description="start from torchvision's ImageNet weights (pretrained_weights)",
    )
    pretrained_weights: Literal["DEFAULT", "IMAGENET1K_V1", "IMAGENET1K_V2"] = Field(
        "DEFAULT",
        description="which torchvision weights; DEFAULT: torchvision's default, or the IMAGENET1K_V1 file "
        "(Ikomia's) when only that one is cached (V2 is not offered for resnext101_64x4d)",
    )
    model_weight_file: str | None = path_field(
        None,
        description="start from this file instead: a checkpoint of this task, or a "
        "torchvision ImageNet state dict (1000 classes)",
    )
    feature_extract: bool = Field(
        True, description="freeze the backbone (batch norm included); only the new head trains"
    )
    hflip: bool = Field(
        True, description="random horizontal flips while training (turn off for digits or text)"
    )
    num_workers: int | None = Field(
        0,
        ge=0,
        le=MAX_WORKERS,
        description="data-loading worker processes; 0 (Ikomia's default): load in the training process; "
        "auto or empty: half the usable cores, at most 4",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="autocast dtype; auto: bf16 on CPUs with AMX/AVX512-BF16, fp16 on CUDA, else fp32"
    )
    seed: int = Field(
        0, ge=0, le=2**32 - 1, description="seed of weights init, data split, order and augmentation"
    )
    early_stopping_patience: int = Field(
        0, ge=0, description="stop after this many epochs without a better val top-1 (0: off)"
    )
    resume: str | None = path_field(None, description="a run folder or a last.pt to continue from")
    export_onnx: bool = Field(False, description="also write best.onnx (needs the 'onnx' extra)")
    quantize_int8: bool = Field(
        True,
        description="at the end, calibrate an INT8 OpenVINO model of best.pt on up to 300 "
        "training images (best.int8/, used by inference's precision int8/auto) and record its "
        "val top-1 and agreement with fp32 in metrics.json; skipped without the openvino extra",
    )
    export_pth: bool = Field(
        True,
        description="also write <model_name>.pth (e.g. resnext50.pth): the best weights as a plain state dict, "
        "as Ikomia's training does; best.pt and last.pt (with their manifest) are always written",
    )
    output_folder: str | None = path_field(
        None,
        must_exist=False,
        description="folder of the runs: each run writes a new <YYYYmmdd-HHMMSS> folder inside "
        "(default: runs/train_torchvision_resnext under the working directory)",
    )

    @field_validator("model_name", "optimizer", "scheduler", "device", "precision", mode="before")
    @classmethod
    def _lower_choice(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("num_workers", mode="before")
    @classmethod
    def _auto_workers(cls, value):
        return None if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("pretrained_weights", mode="before")
    @classmethod
    def _upper_weights(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("dataset_folder", "model_weight_file", "resume", "output_folder", mode="before")
    @classmethod
    def _path_to_str(cls, value):
        import os

        return os.fspath(value) if isinstance(value, os.PathLike) else value

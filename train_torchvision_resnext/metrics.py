"""Per-epoch metrics with torchmetrics, and the metrics.csv / metrics.json files of a run.

Under DistributedDataParallel torchmetrics gathers the metric states of every
process when ``compute()`` is called, so each rank gets the metrics of the whole
validation set.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import torch
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from workflow.core.files import atomic_write_text, dump_json


class EpochMetrics:
    """Loss and classification metrics accumulated over one pass (training or validation)."""

    def __init__(self, num_classes: int, device: torch.device | str = "cpu", detailed: bool = True):
        self.num_classes = num_classes
        self.loss = MeanMetric().to(device)
        metrics: dict[str, Any] = {"top1": MulticlassAccuracy(num_classes, average="micro")}
        if detailed:
            if num_classes > 5:
                metrics["top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
            metrics.update(
                {
                    "precision": MulticlassPrecision(num_classes, average=None),
                    "recall": MulticlassRecall(num_classes, average=None),
                    "f1": MulticlassF1Score(num_classes, average=None),
                    "precision_macro": MulticlassPrecision(num_classes, average="macro"),
                    "recall_macro": MulticlassRecall(num_classes, average="macro"),
                    "f1_macro": MulticlassF1Score(num_classes, average="macro"),
                    "confusion": MulticlassConfusionMatrix(num_classes),
                }
            )
        self.scores = MetricCollection(metrics).to(device)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        """Add one batch: ``logits`` (N x C), ``target`` (N) and its mean ``loss``."""
        self.loss.update(loss.detach().float(), weight=target.numel())
        self.scores.update(logits.detach().float(), target)

    def compute(self) -> dict[str, Any]:
        """Plain Python values: floats, per-class lists, the confusion matrix as nested lists (synced across
        ranks)."""
        out: dict[str, Any] = {"loss": float(self.loss.compute())}
        for name, value in self.scores.compute().items():
            out[name] = value.tolist() if value.ndim else float(value)
        return out

    def reset(self) -> None:
        self.loss.reset()
        self.scores.reset()


def epoch_row(
    epoch: int,
    lr: float,
    train: dict[str, Any],
    val: dict[str, Any],
    class_names: list[str],
    seconds: float,
    images_per_s: float,
) -> dict[str, Any]:
    """One flat row of the metrics table (per-class values as ``precision/<class>`` columns; 6 decimals)."""
    row: dict[str, Any] = {
        "epoch": epoch,
        "lr": lr,
        "train_loss": train["loss"],
        "train_top1": train["top1"],
        "val_loss": val["loss"],
        "val_top1": val["top1"],
    }
    if "top5" in val:
        row["val_top5"] = val["top5"]
    for key in ("precision_macro", "recall_macro", "f1_macro"):
        row[f"val_{key}"] = val[key]
    row["epoch_seconds"] = seconds
    row["train_images_per_s"] = images_per_s
    for key in ("precision", "recall", "f1"):
        for name, value in zip(class_names, val[key]):
            row[f"{key}/{name}"] = value
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in row.items()}


class MetricsLog:
    """The per-epoch history of a run; written as metrics.csv (flat rows) and metrics.json (rows + confusion
    matrices)."""

    def __init__(
        self,
        class_names: list[str],
        rows: list[dict[str, Any]] | None = None,
        confusions: list[list[list[int]]] | None = None,
    ):
        self.class_names = list(class_names)
        self.rows: list[dict[str, Any]] = list(rows or [])
        self.confusions: list[list[list[int]]] = list(confusions or [])

    def add(self, row: dict[str, Any], confusion: list[list[int]]) -> None:
        self.rows.append(row)
        self.confusions.append([[int(v) for v in line] for line in confusion])

    def truncate(self, epochs: int) -> None:
        """Keep the first ``epochs`` rows (a resumed run rewrites what came after its checkpoint)."""
        self.rows, self.confusions = self.rows[:epochs], self.confusions[:epochs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_names": self.class_names,
            "epochs": [{**row, "confusion": conf} for row, conf in zip(self.rows, self.confusions)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricsLog:
        epochs = data.get("epochs", [])
        rows = [{k: v for k, v in e.items() if k != "confusion"} for e in epochs]
        return cls(data["class_names"], rows, [e["confusion"] for e in epochs])

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Write metrics.csv and metrics.json into ``folder`` (each atomically); returns both paths."""
        csv_path, json_path = folder / "metrics.csv", folder / "metrics.json"
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(csv_path, text.getvalue())
        atomic_write_text(json_path, dump_json(self.to_dict()))
        return csv_path, json_path

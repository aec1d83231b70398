"""curves.png (loss and accuracy per epoch) and confusion.png, drawn with matplotlib's Agg canvas (no GUI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow.core.files import atomic_target


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_target(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def plot_curves(rows: list[dict[str, Any]], path: Path) -> Path:
    """Train/val loss and train/val top-1 per epoch, side by side."""
    epochs = [r["epoch"] for r in rows]
    fig = _figure(10, 4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    loss_ax.plot(epochs, [r["val_loss"] for r in rows], "o-", label="val")
    loss_ax.set(title="loss", xlabel="epoch")
    acc_ax.plot(epochs, [r["train_top1"] for r in rows], "o-", label="train (augmented)")
    acc_ax.plot(epochs, [r["val_top1"] for r in rows], "o-", label="val")
    acc_ax.set(title="top-1 accuracy", xlabel="epoch", ylim=(0, 1.02))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    return _save(fig, path)


def plot_confusion(confusion: list[list[int]], class_names: list[str], path: Path, title: str = "") -> Path:
    """The confusion matrix (rows: true class, columns: predicted), counts written in the cells when it is
    small."""
    import numpy as np

    matrix = np.asarray(confusion)
    n = len(class_names)
    side = min(14.0, 3.0 + 0.45 * n)
    fig = _figure(side + 1.5, side)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    if n <= 40:
        ax.set_xticks(range(n), class_names, rotation=90 if n > 10 else 0)
        ax.set_yticks(range(n), class_names)
    if n <= 20:
        top = matrix.max() or 1
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value > top / 2 else "black",
            )
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix (validation)")
    return _save(fig, path)

"""The ``train_torchvision_resnext`` task: train a ResNeXt classifier; its ``model`` output feeds
inference."""

from __future__ import annotations

from typing import Any

from train_torchvision_resnext.params import TrainParams
from workflow.core.ports import Dataset, Model, Port, Table
from workflow.core.task import Task


class TrainTorchvisionResnext(Task):
    """Train a torchvision ResNeXt on an image-folder dataset.

    The dataset folder comes from input 0 ``dataset`` (as Ikomia's ``get_input(0).set_path(folder)``, the
    ``dataset_classification`` task, or ``run_on(folder=...)``) or the ``dataset_folder`` parameter.
    Each run writes a new timestamped folder inside ``output_folder``: ``classes.txt`` and
    ``<model_name>.pth`` (Ikomia's files), best.pt and last.pt (with their manifest), metrics.csv/json,
    curves.png, confusion.png and params.yaml. Outputs the best checkpoint (``model``: ``best.pt``, which
    ``infer_torchvision_resnext`` takes on its ``model`` input) and the per-epoch metrics (``metrics``).
    Under torchrun every rank trains (DDP); rank 0 alone writes files; all ranks output the same model path.
    """

    name = "train_torchvision_resnext"
    description = "Train a torchvision ResNeXt classifier (checkpoints, metrics, curves; DDP under torchrun)"
    Params = TrainParams
    inputs = (
        Port(
            "dataset",
            Dataset,
            optional=True,
            description="dataset folder: train/ and val/ with <class>/ inside, or one <class>/ tree to split",
        ),
    )
    outputs = (
        Port("model", Model, description="best checkpoint (best.pt) with its manifest"),
        Port("metrics", Table, description="one row per epoch: losses, top-1, per-class precision/recall/F1"),
    )

    def __init__(self, params: dict[str, Any] | None = None, task_id: str | None = None):
        super().__init__(params, task_id)
        self.result = None  # trainer.TrainResult of the last run

    def run(self) -> None:
        from train_torchvision_resnext.trainer import train

        self.result = train(
            self.params, self.get_input("dataset").data, task_id=self.id, output_dir=self.context.output_dir
        )
        self.set_output("model", self.result.best_path)
        self.set_output("metrics", self.result.rows)

    def get_results(self):
        """The last run's :class:`~train_torchvision_resnext.trainer.TrainResult` (run folder, best
        checkpoint, rows)."""
        return self.result

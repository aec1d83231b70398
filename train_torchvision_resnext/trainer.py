"""A whole training run: data, model, epochs, metrics files, checkpoints, resume, DDP, ONNX.

:func:`train` is what the task calls; it can be used directly from Python too. Each run reports one line per
epoch and where it saved, logged at INFO on ``train_torchvision_resnext`` and printed when no logging handler
would show it (Ikomia's training prints), so a run off a terminal is not silent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from infer_torchvision_resnext.checkpoint.format import (
    FORMAT_VERSION,
    Manifest,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from infer_torchvision_resnext.models import MODEL_NAMES
from infer_torchvision_resnext.preprocess import normalize_nchw
from infer_torchvision_resnext.recipe import Preprocessing
from train_torchvision_resnext import export, int8_export, optim
from train_torchvision_resnext.data import DatasetSplit, load_dataset
from train_torchvision_resnext.distributed import DistContext, average_buffers, init_distributed, wrap_model
from train_torchvision_resnext.loaders import auto_num_workers, build_loaders, capped_num_workers
from train_torchvision_resnext.loop import StepSetup, evaluate, train_epoch
from train_torchvision_resnext.metrics import EpochMetrics, MetricsLog, epoch_row
from train_torchvision_resnext.model_init import build_start_model, resolve_start
from train_torchvision_resnext.params import TrainParams
from train_torchvision_resnext.plots import plot_confusion, plot_curves
from train_torchvision_resnext.precision import autocast_dtype, resolve_train_runtime, torch_device
from train_torchvision_resnext.rundir import prepare_run_dir, write_ikomia_classes, write_run_files
from train_torchvision_resnext.state import load_resume, rng_state, seed_everything, set_rng_state
from workflow.core.errors import ParamError
from workflow.core.files import atomic_target

TASK_NAME = "train_torchvision_resnext"
log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Where a run's files are and how it went."""

    run_dir: Path
    best_path: Path
    last_path: Path
    class_names: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_top1: float = 0.0
    onnx_path: Path | None = None
    stopped_early: bool = False
    pth_path: Path | None = None  # <model_name>.pth: the best weights as a plain state dict (export_pth)
    model: torch.nn.Module | None = field(
        default=None, repr=False
    )  # the trained network (last epoch), in memory


def train(
    params: TrainParams,
    dataset: str | Path | None = None,
    *,
    task_id: str = TASK_NAME,
    output_dir: str | Path | None = None,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a ResNeXt on an image-folder dataset and return where the checkpoints and metrics are.

    Args:
        params: the task parameters.
        dataset: dataset folder (the task's ``dataset`` input); default ``params.dataset_folder``.
        task_id: named in errors and logs.
        output_dir: base folder for the default run folder (e.g. the runner's output folder).
        on_epoch_end: called as ``on_epoch_end(epoch, row)`` after each epoch's files are written.

    Raises:
        ParamError: no dataset, bad combination of parameters, nothing to resume.
        DatasetError: an unusable dataset folder.
        SetupError: pretrained weights offline (WeightsUnavailableError), an unusable weight file
            (CheckpointError), an explicit model_name that differs from a checkpoint's architecture.
    """
    folder = dataset or params.dataset_folder
    if not folder:
        raise ParamError(
            f"task '{task_id}': no dataset: connect the 'dataset' input or set the 'dataset_folder' parameter"
        )
    if params.export_onnx:
        export.check_onnx_available(task_id)
    runtime = resolve_train_runtime(params.device, params.precision, task_id)
    ctx = init_distributed(runtime.device)
    device = torch_device(runtime.device, ctx.local_rank)
    with _deterministic(device.type == "cpu"):
        try:
            return _Run(
                params, Path(folder), device, runtime.precision, ctx, task_id, output_dir, on_epoch_end
            ).fit()
        finally:
            ctx.close()


def say(message: str) -> None:
    """Log ``message`` at INFO and print it when no logging handler would show it."""
    log.info(message)
    if not _logging_shows(log):
        print(message, flush=True)


def _logging_shows(logger: logging.Logger) -> bool:
    """True when a record at INFO from ``logger`` reaches a handler that emits it."""
    if not logger.isEnabledFor(logging.INFO):
        return False
    node: logging.Logger | None = logger
    while node is not None:
        if any(h.level <= logging.INFO for h in node.handlers):
            return True
        node = node.parent if node.propagate else None
    return False


@contextmanager
def _deterministic(enabled: bool):
    """Deterministic kernels (CPU runs repeat exactly), restoring the caller's settings afterwards.

    Filling fresh tensors with NaN (torch's default in deterministic mode) is turned off: it makes
    a CPU training step ~3x slower and the loop never reads uninitialised memory.
    """
    import torch.utils.deterministic as det

    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        det.fill_uninitialized_memory,
    )
    if enabled:
        torch.use_deterministic_algorithms(True, warn_only=True)
        det.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        det.fill_uninitialized_memory = saved[2]


class _Run:
    """The state of one run; :meth:`fit` drives it."""

    def __init__(
        self,
        params: TrainParams,
        folder: Path,
        device: torch.device,
        precision: str,
        ctx: DistContext,
        task_id: str,
        output_dir,
        on_epoch_end,
    ):
        self.p, self.device, self.precision, self.ctx, self.task_id = params, device, precision, ctx, task_id
        self.on_epoch_end = on_epoch_end
        self.resume = load_resume(params.resume, task_id) if params.resume else None
        self.split: DatasetSplit = ctx.main_first(lambda: load_dataset(folder, params.val_split, params.seed))
        self.names = self.split.class_names
        # the starting weights (and the architecture: a checkpoint's manifest may impose it) before the run
        # folder, so a setup error leaves no empty run folder behind
        self.start = resolve_start(params, ctx, task_id, self.resume)
        self.arch = self.start.arch
        self.run_dir = ctx.main_first(lambda: prepare_run_dir(params, task_id, output_dir, self.resume))
        self.num_workers = (
            capped_num_workers(params.num_workers, ctx.world_size)
            if params.num_workers is not None
            else auto_num_workers(ctx.world_size)
        )

    def fit(self) -> TrainResult:
        p, ctx, start = self.p, self.ctx, self.start
        prep = self._check_resume(start.preprocessing) if self.resume is not None else start.preprocessing
        loaders = build_loaders(
            self.split,
            prep,
            batch_size=p.batch_size,
            num_workers=self.num_workers,
            seed=p.seed,
            hflip=p.hflip,
            rank=ctx.rank,
            world_size=ctx.world_size,
            pin_memory=self.device.type == "cuda",
        )
        loaders.start_workers()  # before the model exists: cheap forks
        seed_everything(p.seed)
        model = build_start_model(start, len(self.names))
        if self.resume is None and ctx.is_main:
            log.info("%s: starting from %s", self.task_id, start.describe())
        if p.feature_extract:
            optim.freeze_backbone(model)
        model = model.to(self.device, memory_format=torch.channels_last)
        ddp = wrap_model(model, self.device, ctx)
        steps = len(loaders.train)
        optimizer = optim.build_optimizer(model, p.optimizer, p.learning_rate, p.momentum, p.weight_decay)
        scheduler = optim.build_scheduler(
            optimizer,
            p.scheduler,
            steps * p.epochs,
            optim.warmup_steps(p.warmup_epochs, steps, steps * p.epochs),
        )
        dtype = autocast_dtype(self.precision)
        scaler = torch.amp.GradScaler(self.device.type, enabled=dtype == torch.float16)
        early = optim.EarlyStopping(p.early_stopping_patience)
        history, first_epoch = MetricsLog(self.names), 0
        if self.resume is not None:
            first_epoch, history = self._restore(optimizer, scheduler, scaler, early, steps)
        if ctx.is_main:
            write_ikomia_classes(self.run_dir, self.names)
            write_run_files(self.run_dir, p, self.split, self._resolved(prep))
            say(
                f"{self.task_id}: {self.split.describe()}; {self.arch} on {self.device}, {self.precision}, "
                f"{self.num_workers} worker(s), {ctx.world_size} process(es); run folder '{self.run_dir}'"
            )
        setup = StepSetup(
            self.device,
            dtype,
            scaler,
            torch.nn.CrossEntropyLoss(label_smoothing=p.label_smoothing),
            prep.mean,
            prep.std,
            p.feature_extract,
            show_progress=ctx.is_main,
        )
        train_m = EpochMetrics(len(self.names), self.device, detailed=False)
        val_m = EpochMetrics(len(self.names), self.device)
        stopped = False
        for epoch in range(first_epoch, p.epochs):
            loaders.train_sampler.set_epoch(epoch)
            images, seconds, lr = train_epoch(
                ddp,
                loaders.train,
                optimizer,
                scheduler,
                setup,
                train_m,
                f"epoch {epoch + 1}/{p.epochs} train",
            )
            average_buffers(model, ctx)
            evaluate(ddp, loaders.val, setup, val_m, f"epoch {epoch + 1}/{p.epochs} val")
            val = val_m.compute()
            row = epoch_row(
                epoch + 1,
                lr,
                train_m.compute(),
                val,
                self.names,
                seconds,
                images * ctx.world_size / max(seconds, 1e-9),
            )
            history.add(row, val["confusion"])
            improved = early.update(row["val_top1"], epoch + 1)
            if ctx.is_main:
                self._save_epoch(
                    model, prep, history, row, improved, epoch + 1, optimizer, scheduler, scaler, early, steps
                )
                say(
                    f"{self.task_id}: epoch {epoch + 1}/{p.epochs}  train_loss {row['train_loss']:.4f}  "
                    f"val_loss {row['val_loss']:.4f}  val_top1 {row['val_top1']:.4f}"
                    f"{'  *best*' if improved else ''}  ({seconds:.1f} s, {row['train_images_per_s']:.0f} img/s)"
                )
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch + 1, row)
            if early.should_stop:
                stopped = True
                if ctx.is_main:
                    log.info(
                        "%s: early stop after epoch %d: no better val_top1 for %d epochs",
                        self.task_id,
                        epoch + 1,
                        early.patience,
                    )
                break
        onnx_path = self._export(prep, loaders) if p.export_onnx and ctx.is_main else None
        if p.quantize_int8 and ctx.is_main:
            int8_export.quantize_run(self.run_dir, self.split.train, self.split.val, task_id=self.task_id)
        if ctx.is_main:
            say(
                f"{self.task_id}: saved to '{self.run_dir}': best.pt (epoch {early.best_epoch}, val_top1 "
                f"{float(early.best or 0.0):.4f}), last.pt, classes.txt"
                + (f", {self.pth_path.name}" if p.export_pth else "")
                + ", metrics.csv/json, curves.png"
            )
        ctx.barrier()
        return TrainResult(
            self.run_dir,
            self.run_dir / "best.pt",
            self.run_dir / "last.pt",
            self.names,
            list(history.rows),
            early.best_epoch,
            float(early.best or 0.0),
            onnx_path,
            stopped,
            pth_path=self.pth_path if p.export_pth else None,
            model=model,
        )

    # -- resume ---------------------------------------------------------------
    def _check_resume(self, prep: Preprocessing) -> Preprocessing:
        manifest = self.resume.manifest
        where = f"task '{self.task_id}': cannot resume from '{self.resume.path}'"
        if manifest.class_names != self.names:
            raise ParamError(
                f"{where}: its classes ({', '.join(manifest.class_names)}) differ from the dataset's "
                f"({', '.join(self.names)})"
            )
        if prep.crop_size != self.p.input_size:
            raise ParamError(
                f"{where}: it was trained at input_size {prep.crop_size}, not {self.p.input_size}"
            )
        return prep

    def _restore(self, optimizer, scheduler, scaler, early, steps: int) -> tuple[int, MetricsLog]:
        extra = self.resume.extra
        try:
            optimizer.load_state_dict(extra["optimizer"])
        except ValueError as exc:
            raise ParamError(
                f"task '{self.task_id}': cannot resume from '{self.resume.path}': its optimizer state does not "
                f"fit ({exc}); were feature_extract or optimizer changed?"
            ) from None
        done = int(extra["epoch"])
        if int(extra.get("epochs", -1)) == self.p.epochs and int(extra.get("steps_per_epoch", -1)) == steps:
            scheduler.load_state_dict(extra["scheduler"])
        else:  # another length: follow the new schedule from where the run is
            optim.fast_forward(scheduler, done * steps)
        if "scaler" in extra:
            scaler.load_state_dict(extra["scaler"])
        early.load_state_dict(extra["early_stopping"])
        history = MetricsLog.from_dict(extra["history"])
        history.truncate(done)
        set_rng_state(extra["rng"])
        if self.ctx.is_main:
            log.info(
                "%s: resuming '%s' after epoch %d of %d", self.task_id, self.resume.path, done, self.p.epochs
            )
        return done, history

    # -- files ----------------------------------------------------------------
    def _manifest(self, prep: Preprocessing, row: dict[str, Any]) -> Manifest:
        metrics = {
            k: row[k] for k in ("epoch", "val_top1", "val_loss", "train_loss", "val_f1_macro") if k in row
        }
        return Manifest(FORMAT_VERSION, self.arch, list(self.names), prep, metrics, TASK_NAME)

    def _save_epoch(
        self,
        model,
        prep,
        history: MetricsLog,
        row,
        improved: bool,
        epoch: int,
        optimizer,
        scheduler,
        scaler,
        early,
        steps: int,
    ) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        if improved:
            save_checkpoint(self.run_dir / "best.pt", state, self._manifest(prep, row))
            if self.p.export_pth:
                with atomic_target(self.pth_path) as tmp:  # Ikomia's <model_name>.pth: a plain state dict
                    torch.save(state, tmp)
            plot_confusion(
                history.confusions[-1],
                self.names,
                self.run_dir / "confusion.png",
                f"validation, epoch {epoch} (top-1 {row['val_top1']:.3f})",
            )
        extra = {
            "epoch": epoch,
            "epochs": self.p.epochs,
            "steps_per_epoch": steps,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "early_stopping": early.state_dict(),
            "history": history.to_dict(),
            "rng": rng_state(),
            "params": self.p.model_dump(),
        }
        save_checkpoint(self.run_dir / "last.pt", state, self._manifest(prep, row), extra)
        history.write(self.run_dir)
        plot_curves(history.rows, self.run_dir / "curves.png")

    @property
    def pth_path(self) -> Path:
        """``<model_name>.pth`` in the run folder, named after the short model name (``resnext50.pth``)."""
        short = {arch: name for name, arch in MODEL_NAMES.items()}.get(self.arch, self.arch)
        return self.run_dir / f"{short}.pth"

    def _resolved(self, prep: Preprocessing) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "device": str(self.device),
            "precision": self.precision,
            "num_workers": self.num_workers,
            "world_size": self.ctx.world_size,
            "preprocessing": prep.to_dict(),
            "torch": torch.__version__,
        }

    def _export(self, prep: Preprocessing, loaders) -> Path:
        best = build_model(load_checkpoint(self.run_dir / "best.pt"))
        sample = normalize_nchw(next(iter(loaders.val))[0][:8], prep.mean, prep.std).contiguous()
        path = export.export_onnx(best, self.run_dir / "best.onnx", prep.crop_size, sample)
        log.info("%s: ONNX model written to '%s'", self.task_id, path)
        return path

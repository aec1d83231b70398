"""ONNX export of the best model, checked against torch with onnxruntime (the ``onnx`` extra)."""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path

import torch

from workflow.core.errors import ParamError, TaskRunError
from workflow.core.files import atomic_target

log = logging.getLogger(__name__)
TOLERANCE = 1e-3  # max |torch - onnxruntime| on the logits


def check_onnx_available(task_id: str = "train_torchvision_resnext") -> None:
    """Fail before training when ``export_onnx`` is asked for without the ``onnx`` package.

    Raises:
        ParamError: names the extra to install.
    """
    if importlib.util.find_spec("onnx") is None:
        raise ParamError(
            f"task '{task_id}': parameter 'export_onnx' needs the onnx package: "
            f"pip install 'cv-workflow[onnx]' (or set export_onnx to false)"
        )


def export_onnx(
    model: torch.nn.Module, path: Path, input_size: int, sample: torch.Tensor | None = None
) -> Path:
    """Write ``model`` (fp32, eval mode, dynamic batch) to ``path`` and compare it with torch on ``sample``.

    The comparison runs when onnxruntime is installed; otherwise it is skipped with a log line.

    Raises:
        TaskRunError: the ONNX model's logits differ from torch's by more than ``TOLERANCE``.
    """
    model = model.float().eval().to("cpu", memory_format=torch.contiguous_format)
    if sample is None:
        sample = torch.randn(2, 3, input_size, input_size)
    sample = sample.float().cpu().contiguous()
    use_dynamo = importlib.util.find_spec("onnxscript") is not None
    with atomic_target(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", DeprecationWarning
        )  # the TorchScript exporter, when onnxscript is absent
        if (
            use_dynamo
        ):  # a batch of 2 (a batch of 1 would be specialised to 1) with a symbolic batch dimension
            torch.onnx.export(
                model,
                (sample[:2].expand(2, -1, -1, -1).contiguous(),),
                str(tmp),
                input_names=["input"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                external_data=False,
            )
        else:
            torch.onnx.export(
                model,
                (sample[:1],),
                str(tmp),
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
            )
    verify_onnx(model, path, sample)
    return path


def verify_onnx(model: torch.nn.Module, path: Path, sample: torch.Tensor) -> float | None:
    """Max absolute difference between torch's and onnxruntime's logits on ``sample`` (None: no
    onnxruntime)."""
    if importlib.util.find_spec("onnxruntime") is None:
        log.info(
            "ONNX model '%s' written; onnxruntime is not installed, so it was not checked against torch", path
        )
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: sample.numpy()})[0]
    with torch.no_grad():
        want = model(sample).numpy()
    diff = float(abs(got - want).max())
    if diff > TOLERANCE:
        raise TaskRunError(
            f"ONNX model '{path}' differs from torch by {diff:.2e} on a validation batch (> {TOLERANCE})"
        )
    log.info("ONNX model '%s' matches torch on %d images (max |diff| %.1e)", path, len(sample), diff)
    return diff

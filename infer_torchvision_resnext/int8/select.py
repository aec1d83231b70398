"""Which INT8 model a classifier may use: the one next to its checkpoint, a cached one, or one calibrated now.

:func:`int8_entry` is asked before the runtime is resolved: its recorded top-1 agreement is what
``precision: auto`` weighs (:func:`..backends.choice.int8_candidate`), and ``precision: int8`` needs it.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from workflow.core import runtime as shared_runtime
from workflow.core.errors import SetupError

if TYPE_CHECKING:  # pragma: no cover
    from infer_torchvision_resnext.int8.cache import Int8Entry
    from infer_torchvision_resnext.model_source import ModelSource
    from infer_torchvision_resnext.params import ClassifierConfig

log = logging.getLogger(__name__)


def int8_available() -> bool:
    """True when openvino and nncf are installed (the ``openvino`` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("openvino", "nncf"))


def may_use_int8(config: ClassifierConfig) -> bool:
    """False when ``config`` can never run INT8 here, so no weights need hashing."""
    if config.backend == "torch" or config.device == "cuda":
        return False
    if config.precision == "int8":
        return True
    if config.precision != "auto":
        return False
    if shared_runtime.cpu_info().bf16:
        return False  # auto picks bf16 there
    return config.device == "cpu" or config.backend == "openvino" or not shared_runtime.cuda_available()


def int8_entry(config: ClassifierConfig, source: ModelSource, *, task_id: str) -> Int8Entry | None:
    """The INT8 model of ``source``'s weights for ``config``, calibrating on ``calibration_folder`` when
    given.

    Raises:
        SetupError: ``precision: int8`` without nncf/openvino, without a weights file, or with no INT8
            model of these weights and no ``calibration_folder``.
    """
    wanted = config.precision == "int8"
    if not may_use_int8(config):
        return None
    who = f"task '{task_id}': parameter 'precision' is 'int8'"
    if not int8_available():
        if wanted:
            raise SetupError(
                f"{who} but nncf/openvino are not installed: pip install 'cv-workflow[openvino]'"
            )
        return None
    if source.weights_file is None:
        if wanted:
            raise SetupError(
                f"{who} but the weights of {source.description} are not a local file yet; "
                f"run once with precision 'fp32' to download them"
            )
        return None
    from infer_torchvision_resnext.int8.cache import file_sha256, find_entry, int8_root, sidecar_folder

    if config.calibration_folder:
        from infer_torchvision_resnext.backends.openvino_backend import compile_for_check, fp32_model
        from infer_torchvision_resnext.int8.calibration import int8_from_folder

        return int8_from_folder(
            lambda: fp32_model(source.factory, source.prep, len(source.class_names), source.cache_key),
            compile_for_check,
            source.weights_file,
            source.prep,
            config.calibration_folder,
            task_id=task_id,
        )
    checkpoint = source.weights_file if source.cache_key.startswith("checkpoint:") else None
    entry = find_entry(file_sha256(source.weights_file), source.prep.to_dict(), checkpoint=checkpoint)
    if entry is None and wanted:
        where = f"'{sidecar_folder(checkpoint)}' or " if checkpoint else ""
        raise SetupError(
            f"{who} but no calibrated INT8 model of '{source.weights_file}' at {source.prep.crop_size} px "
            f"exists (looked in {where}'{int8_root()}'): set parameter 'calibration_folder' to a folder of "
            f"a few hundred images like the ones to classify"
        )
    return entry

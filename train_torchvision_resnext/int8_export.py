"""End of a training run: an INT8 OpenVINO model of best.pt, calibrated on training images, checked on
validation.

Needs the ``openvino`` extra (openvino + nncf); without it the step is skipped with one log line.
Calibration uses up to ``MAX_CALIBRATION`` training images spread over the (class-sorted) list, with
the validation preprocessing; the check runs the fp32 and INT8 OpenVINO models on up to ``MAX_VAL``
validation images and records both top-1 accuracies and their top-1 agreement. The model goes to
``best.int8/`` next to ``best.pt``, where inference finds it (``precision: int8`` or ``auto``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workflow.core.files import atomic_write_text

log = logging.getLogger(__name__)
MAX_VAL = 500


def spread(items: Sequence, limit: int) -> list:
    """At most ``limit`` items, evenly spaced over ``items`` (every class of a class-sorted list is
    represented)."""
    if len(items) <= limit:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def quantize_checkpoint(
    best_path: Path,
    train_files: Sequence[Path],
    val_samples: Sequence[tuple[Path, int]],
    *,
    task_id: str = "",
) -> dict[str, Any]:
    """Write ``best.int8/`` next to ``best_path``; return what metrics.json records under ``int8``."""
    from infer_torchvision_resnext.backends.openvino_backend import compile_for_check, fp32_model
    from infer_torchvision_resnext.checkpoint.format import build_model, load_checkpoint
    from infer_torchvision_resnext.int8.cache import calibration_id, save_int8, sidecar_folder
    from infer_torchvision_resnext.int8.calibration import load_crops
    from infer_torchvision_resnext.int8.quantize import (
        MAX_CALIBRATION,
        measure_agreement,
        quantize_model,
        sync_infer,
    )

    ckpt = load_checkpoint(best_path)
    prep = ckpt.manifest.preprocessing
    fp32 = fp32_model(lambda: build_model(ckpt), prep, len(ckpt.manifest.class_names), None)
    cal = spread(list(train_files), MAX_CALIBRATION)
    val = spread(list(val_samples), MAX_VAL)
    quantized = quantize_model(fp32, load_crops(cal, prep))
    check = measure_agreement(
        sync_infer(compile_for_check(fp32)),
        sync_infer(compile_for_check(quantized)),
        load_crops([p for p, _ in val], prep),
        [y for _, y in val],
    )
    folder = sidecar_folder(best_path)
    save_int8(
        folder,
        quantized,
        weights=best_path,
        prep=prep,
        calibration_id="train:" + calibration_id(cal),
        calibration={"images": len(cal), "from": "training set"},
        check=check,
        checked_on="validation images",
    )
    return {
        "model": folder.name,
        "calibration_images": len(cal),
        "validation_images": check.images,
        "top1_int8": check.top1_int8,
        "top1_fp32": check.top1_fp32,
        "top1_agreement": check.agreement,
    }


def record_in_metrics(run_dir: Path, int8: dict[str, Any]) -> None:
    """Add ``int8`` to the run's metrics.json (written atomically)."""
    path = run_dir / "metrics.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data["int8"] = int8
    atomic_write_text(path, json.dumps(data, indent=2))


def quantize_run(
    run_dir: Path, train: Sequence[tuple[Path, int]], val: Sequence[tuple[Path, int]], *, task_id: str = ""
) -> dict[str, Any] | None:
    """Quantize the run's best.pt and record the result in metrics.json; None (one log line) without
    openvino/nncf."""
    from infer_torchvision_resnext.int8.select import int8_available

    if not int8_available():
        log.info(
            "%s: no INT8 model written: nncf/openvino are not installed (pip install 'cv-workflow[openvino]')",
            task_id,
        )
        return None
    if not val:
        log.info("%s: no INT8 model written: there are no validation images to check it on", task_id)
        return None
    try:
        int8 = quantize_in_child(run_dir / "best.pt", [path for path, _ in train], list(val), task_id=task_id)
    except (
        RuntimeError
    ) as exc:  # best.pt stands: the optional INT8 step is reported, in the log and metrics.json
        log.warning("%s: no INT8 model written: %s", task_id, exc)
        record_in_metrics(run_dir, {"error": str(exc)})
        return None
    log.info(
        "%s: INT8 model written to '%s': val top-1 %.4f (fp32 %.4f), top-1 agreement %.4f on %d images",
        task_id,
        run_dir / int8["model"],
        int8["top1_int8"],
        int8["top1_fp32"],
        int8["top1_agreement"],
        int8["validation_images"],
    )
    record_in_metrics(run_dir, int8)
    return int8


def quantize_in_child(
    best_path: Path,
    train_files: Sequence[Path],
    val_samples: Sequence[tuple[Path, int]],
    *,
    task_id: str = "",
) -> dict[str, Any]:
    """:func:`quantize_checkpoint` in a fresh Python process (``python -m`` this module); its error is raised
    here.

    NNCF and the OpenVINO conversion stay out of the training process: with both loaded in it, a later
    OpenVINO compile in that process was seen to crash it (SIGSEGV) on this machine.
    """
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="int8-") as tmp:
        job, result = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job.write_text(
            json.dumps(
                {
                    "best": os.fsdecode(best_path),
                    "train": [os.fsdecode(p) for p in train_files],
                    "val": [[os.fsdecode(p), int(y)] for p, y in val_samples],
                    "task_id": task_id,
                }
            ),
            encoding="ascii",
        )
        proc = subprocess.run(
            [sys.executable, "-m", __name__, str(job), str(result)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        if proc.returncode != 0 or not result.is_file():
            last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "no message")
            raise RuntimeError(
                f"INT8 calibration of '{best_path}' failed (exit {proc.returncode}): {last[:300]}"
            )
        return json.loads(result.read_text(encoding="utf-8"))


def _main(job_file: str, result_file: str) -> None:
    job = json.loads(Path(job_file).read_text(encoding="ascii"))
    # file names that are not UTF-8 travel as ASCII JSON escapes of their surrogates and come back exactly
    int8 = quantize_checkpoint(
        Path(job["best"]),
        [Path(p) for p in job["train"]],
        [(Path(p), y) for p, y in job["val"]],
        task_id=job["task_id"],
    )
    atomic_write_text(result_file, json.dumps(int8))


if __name__ == "__main__":
    import sys

    _main(sys.argv[1], sys.argv[2])
